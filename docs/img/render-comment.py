import sys
from markdown_it import MarkdownIt
md = MarkdownIt("commonmark", {"html": True}).enable("table")
body = md.render(open(sys.argv[1]).read())
css = open("/tmp/shot/package/github-markdown-light.css").read()
open(sys.argv[2], "w").write(f"""<!doctype html><html><head><meta charset="utf-8"><style>{css}
body {{ background: #fff; }} .markdown-body {{ box-sizing: border-box; max-width: 1012px; margin: 20px auto; padding: 16px 24px; border: 1px solid #d0d7de; border-radius: 6px; }}</style></head>
<body><div class="markdown-body">{body}</div></body></html>""")
