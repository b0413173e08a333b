//! The input layer: every file policy-check reads or writes on a user's behalf goes
//! through here. Why one place: a FIFO or a device given as a receipt, policy or
//! model hangs or never ends; file metadata can lie about size (`/proc`,
//! `/dev/zero`); a committed symlink can point a pull request's "doc" or policy at the
//! runner's secrets; a walk through `ln -s . x` never ends. So: regular files only,
//! reads capped by counting bytes (never by trusting metadata), symlinks followed
//! only when they resolve inside the root they were found under, walks that visit
//! each directory and file once, and writes that never follow a symlink, never
//! clobber a file unless told, and land atomically. Limits: docs/receipts.md.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// A doc scanned for claims is read whole; above this it is reported, not read.
pub const MAX_DOC_BYTES: u64 = 16 * 1024 * 1024;
/// A model is hashed as a stream; above this it is refused (the largest GGUF
/// models are a few hundred GB).
pub const MAX_MODEL_BYTES: u64 = 1 << 40;

/// Why a file could not be read. `Display` is the message; `fix` says what to do.
#[derive(Debug)]
pub enum ReadError {
    NotFound,
    PermissionDenied,
    Directory,
    /// A FIFO, socket or device: reading it could block forever or never end.
    NotRegular(&'static str),
    /// More than `cap` bytes (counted while reading, not taken from metadata).
    TooLarge {
        cap: u64,
    },
    /// A symlink (or `..`) that leads out of the root the path was found under.
    Outside {
        root: PathBuf,
    },
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "file not found"),
            ReadError::PermissionDenied => write!(f, "permission denied"),
            ReadError::Directory => write!(f, "is a directory, not a file"),
            ReadError::NotRegular(kind) => write!(f, "is {kind}, not a regular file"),
            ReadError::TooLarge { cap } => write!(f, "is larger than the {cap}-byte limit"),
            ReadError::Outside { root } => write!(
                f,
                "resolves outside {} (through a symlink or `..`)",
                root.display()
            ),
            ReadError::Io(e) => write!(f, "cannot read: {e}"),
        }
    }
}

impl ReadError {
    /// What to do about it, in one phrase.
    pub fn fix(&self) -> &'static str {
        match self {
            ReadError::NotFound => "check the path",
            ReadError::PermissionDenied => {
                "make the file readable by the user running policy-check"
            }
            ReadError::Directory => "pass the file itself",
            ReadError::NotRegular(_) => {
                "pass a regular file; policy-check never reads pipes, sockets or devices"
            }
            ReadError::TooLarge { .. } => {
                "check that the path names the right file (the limits are in docs/receipts.md)"
            }
            ReadError::Outside { .. } => {
                "commit the file itself; symlinks that leave the repository are not followed"
            }
            ReadError::Io(_) => "check the file",
        }
    }

    fn from_io(e: io::Error) -> ReadError {
        match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            _ => ReadError::Io(e),
        }
    }
}

fn kind_of(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    if ft.is_dir() {
        return Err(ReadError::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Err(ReadError::NotRegular("a FIFO (named pipe)"));
        }
        if ft.is_socket() {
            return Err(ReadError::NotRegular("a socket"));
        }
        if ft.is_char_device() || ft.is_block_device() {
            return Err(ReadError::NotRegular("a device"));
        }
    }
    Err(ReadError::NotRegular("not a regular file"))
}

/// Open a regular file for reading: the open is non-blocking so a FIFO cannot
/// hang it, and the type is checked on the open handle, so the path cannot be
/// swapped between a check and the read. (Elsewhere, without non-blocking opens,
/// the type is also checked before opening.)
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    kind_of(&std::fs::metadata(path).map_err(ReadError::from_io)?)?;
    let file = options.open(path).map_err(ReadError::from_io)?;
    kind_of(&file.metadata().map_err(ReadError::from_io)?)?;
    Ok(file)
}

/// Read a regular file whole, refusing it once more than `cap` bytes have come.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let hint = file.metadata().map(|m| m.len().min(cap)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(hint as usize);
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::from_io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

/// Stream a regular file through `sink` in chunks, refusing it past `cap` bytes.
pub fn stream_capped(path: &Path, cap: u64, mut sink: impl FnMut(&[u8])) -> Result<(), ReadError> {
    let mut file = open_regular(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    loop {
        let n = file.read(&mut buf).map_err(ReadError::from_io)?;
        if n == 0 {
            return Ok(());
        }
        total += n as u64;
        if total > cap {
            return Err(ReadError::TooLarge { cap });
        }
        sink(&buf[..n]);
    }
}

/// `path` (absolute, or relative to the working directory) resolved with every
/// symlink followed, refused unless it lands inside `root`. A dangling path is
/// `NotFound`.
pub fn resolve_within(root: &Path, path: &Path) -> Result<PathBuf, ReadError> {
    let root = root.canonicalize().map_err(ReadError::from_io)?;
    let resolved = path.canonicalize().map_err(ReadError::from_io)?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(ReadError::Outside { root })
    }
}

/// Read `rel` under `root` (a doc, a committed policy, a cited receipt): the path
/// must stay inside the root lexically and after symlinks, and be a regular file.
pub fn read_within(root: &Path, rel: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    if !stays_inside(rel) {
        return Err(ReadError::Outside {
            root: root.to_path_buf(),
        });
    }
    let resolved = resolve_within(root, &root.join(rel))?;
    read_capped(&resolved, cap)
}

/// Whether a relative path stays under its base without looking at the disk: not
/// absolute, and no `..` that climbs above the start.
pub fn stays_inside(rel: &Path) -> bool {
    let mut depth: i64 = 0;
    for part in rel.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Every regular file under `dir` that `keep` accepts, sorted. Symlinks are
/// followed, but each directory and each file is visited once (by device and
/// inode), so a link loop ends and a receipt reached by two paths counts once.
/// (walkdir stops loops but would count a receipt linked twice twice, and stats
/// every file: receipts are verified by the thousand.)
/// Entries that cannot be read are skipped: the caller reports what it found.
/// `max_depth` 1 means the files directly in `dir`.
pub fn walk_files(dir: &Path, max_depth: usize, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let Ok(top) = std::fs::metadata(dir) else {
        return found;
    };
    seen.insert(identity(&top));
    let mut stack = vec![(dir.to_path_buf(), top, 1)];
    while let Some((d, d_meta, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            // A plain file is known from the directory listing alone; a directory
            // or a symlink is looked at (`metadata` follows the link; a dangling
            // one is skipped).
            let (is_dir, id) = if kind.is_file() {
                (false, listed_identity(&entry, &d_meta))
            } else if kind.is_dir() || kind.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_dir() || meta.is_file() => {
                        let id = identity(&meta);
                        if meta.is_dir() && depth < max_depth && seen.insert(id) {
                            stack.push((path, meta, depth + 1));
                            continue;
                        }
                        (meta.is_dir(), id)
                    }
                    _ => continue,
                }
            } else {
                continue;
            };
            if !is_dir && seen.insert(id) && keep(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A plain file's identity from its directory entry (no system call on Unix).
#[cfg(unix)]
fn listed_identity(entry: &std::fs::DirEntry, dir: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::{DirEntryExt, MetadataExt};
    (dir.dev(), entry.ino())
}

#[cfg(not(unix))]
fn listed_identity(entry: &std::fs::DirEntry, _dir: &std::fs::Metadata) -> (u64, u64) {
    entry.metadata().map_or((0, 0), |m| identity(&m))
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    // No inode numbers: fall back to size and time, which still ends a loop
    // because a directory revisited has the same ones.
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    (meta.len(), modified)
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("already exists")]
    Exists,
    #[error("is a symbolic link; policy-check never writes through one")]
    Symlink,
    #[error("is not a regular file")]
    NotRegular,
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
}

/// Whether an existing file at the destination may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Refuse,
    Replace,
}

/// Write `bytes` to `path` atomically: into a new temporary file beside it, then
/// moved into place. The destination itself is never followed if it is a symlink,
/// and an existing file is kept unless `existing` is `Replace` (whose permissions
/// the new file then takes). A crash leaves the old file or the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8], existing: Existing) -> Result<(), WriteError> {
    let current = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(WriteError::Symlink),
        Ok(meta) if !meta.is_file() => return Err(WriteError::NotRegular),
        Ok(_) if existing == Existing::Refuse => return Err(WriteError::Exists),
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let (tmp, mut file) = temp_beside(dir, &name)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| match &current {
            Some(meta) => file.set_permissions(meta.permissions()),
            None => Ok(()),
        });
    drop(file);
    let placed = written.and_then(|()| match existing {
        // rename replaces atomically; a symlink put there since is replaced, not followed.
        Existing::Replace => std::fs::rename(&tmp, path),
        // hard_link fails if the name exists, so a file that appeared since is kept.
        Existing::Refuse => {
            std::fs::hard_link(&tmp, path).and_then(|()| std::fs::remove_file(&tmp))
        }
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(match e.kind() {
            io::ErrorKind::AlreadyExists => WriteError::Exists,
            _ => WriteError::Io(e),
        });
    }
    Ok(())
}

fn temp_beside(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut attempt = 0u32;
    loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// `root/path`, or `path` itself for the current directory, so that messages
/// print `ci/receipt-policy.toml` rather than `./ci/receipt-policy.toml`.
pub fn under(root: &Path, path: impl AsRef<Path>) -> PathBuf {
    if root == Path::new(".") || root.as_os_str().is_empty() {
        path.as_ref().to_path_buf()
    } else {
        root.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_containment() {
        assert!(stays_inside(Path::new("docs/a.md")));
        assert!(stays_inside(Path::new("docs/../README.md")));
        assert!(!stays_inside(Path::new("../x.json")));
        assert!(!stays_inside(Path::new("docs/../../x.json")));
        assert!(!stays_inside(Path::new("/etc/passwd")));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(
            read_capped(&fifo, 10),
            Err(ReadError::NotRegular(_))
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular(_))
        ));
        assert!(matches!(
            read_capped(dir.path(), 10),
            Err(ReadError::Directory)
        ));
    }

    #[test]
    fn the_cap_counts_bytes_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_capped(&f, 5).unwrap(), b"12345");
        assert!(matches!(
            read_capped(&f, 4),
            Err(ReadError::TooLarge { cap: 4 })
        ));
        let mut total = 0;
        assert!(stream_capped(&f, 5, |b| total += b.len()).is_ok());
        assert_eq!(total, 5);
        assert!(stream_capped(&f, 4, |_| ()).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_must_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"token").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("real.md"), b"ok").unwrap();
        std::os::unix::fs::symlink(&secret, root.path().join("leak.md")).unwrap();
        std::os::unix::fs::symlink("real.md", root.path().join("alias.md")).unwrap();
        std::os::unix::fs::symlink("missing", root.path().join("dangling.md")).unwrap();
        let read = |p: &str| read_within(root.path(), Path::new(p), 100);
        assert_eq!(read("alias.md").unwrap(), b"ok");
        assert!(matches!(read("leak.md"), Err(ReadError::Outside { .. })));
        assert!(matches!(read("../x"), Err(ReadError::Outside { .. })));
        assert!(matches!(read("dangling.md"), Err(ReadError::NotFound)));
    }

    #[cfg(unix)]
    #[test]
    fn walks_end_on_link_loops_and_count_each_file_once() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("r.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(".", root.path().join("x")).unwrap();
        std::os::unix::fs::symlink(".", root.path().join("y")).unwrap();
        std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
        std::os::unix::fs::symlink("r.json", sub.join("again.json")).unwrap();
        let found = walk_files(root.path(), usize::MAX, |p| {
            p.extension().is_some_and(|e| e == "json")
        });
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[cfg(unix)]
    #[test]
    fn writes_never_follow_or_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            write_atomic(&link, b"x", Existing::Replace),
            Err(WriteError::Symlink)
        ));
        assert!(matches!(
            write_atomic(&target, b"x", Existing::Refuse),
            Err(WriteError::Exists)
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        write_atomic(&target, b"new", Existing::Replace).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let fresh = dir.path().join("fresh.txt");
        write_atomic(&fresh, b"made", Existing::Refuse).unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"made");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left behind");
    }
}
