//! `baseline chart`: each envelope's baseline rates over time as one
//! self-contained SVG (no scripts, no external references, so GitHub renders
//! it inline): one panel per envelope, its band shaded, one line per host class,
//! axes labelled with tokens per second and dates.

use super::format_date;
use super::store::{Baseline, Store};
use crate::config::Policy;
use std::collections::BTreeMap;
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 250.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Space between the axes and the first and last dates.
const INSET: f64 = 16.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Tick step for a range: 1, 2 or 5 times a power of ten, about five ticks.
fn step(span: f64) -> f64 {
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// The chart, or `None` when no baseline (of `only`, if given) has an envelope and a rate.
pub fn svg(store: &Store, policy: &Policy, only: Option<&str>) -> Option<String> {
    let mut panels: BTreeMap<&str, Vec<&Baseline>> = BTreeMap::new();
    for b in &store.baselines {
        if let (Some(e), Some(_), Some(_)) = (&b.envelope, b.tokens_per_second, &b.host_class)
            && only.is_none_or(|o| o == e)
        {
            panels.entry(e.as_str()).or_default().push(b);
        }
    }
    if panels.is_empty() {
        return None;
    }
    let height = TOP / 2.0 + PANEL * panels.len() as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<title>Baseline history: tokens per second by date, per envelope and host class</title>"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    for (i, (envelope, points)) in panels.iter().enumerate() {
        let y0 = TOP / 2.0 + PANEL * i as f64;
        panel(&mut out, policy, envelope, points, y0);
    }
    out.push_str("</svg>\n");
    Some(out)
}

fn panel(out: &mut String, policy: &Policy, envelope: &str, points: &[&Baseline], y0: f64) {
    let band = policy
        .envelopes
        .iter()
        .find(|e| e.id == envelope)
        .and_then(|e| e.band());
    let first = points
        .iter()
        .map(|b| b.date)
        .min()
        .expect("a panel has points");
    let last = points
        .iter()
        .map(|b| b.date)
        .max()
        .expect("a panel has points");
    let days = ((last - first).whole_days() as f64).max(1.0);
    let rates = points.iter().filter_map(|b| b.tokens_per_second);
    let mut hi = rates.clone().fold(0.0f64, f64::max);
    let mut lo = rates.fold(f64::INFINITY, f64::min);
    if let Some([blo, bhi]) = band {
        lo = lo.min(blo);
        if bhi.is_finite() {
            hi = hi.max(bhi);
        }
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.05).max(0.1);
    let (ylo, yhi) = ((lo - pad).max(0.0), hi + pad);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, PANEL - TOP - BOTTOM);
    let top = y0 + TOP;
    let x = |d: time::Date| {
        let n = (d - first).whole_days() as f64;
        if first == last {
            LEFT + plot_w / 2.0
        } else {
            LEFT + INSET + (plot_w - 2.0 * INSET) * n / days
        }
    };
    let y = |r: f64| top + plot_h * (1.0 - (r - ylo) / (yhi - ylo));
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-size="14" font-weight="bold">{}</text>"#,
        y0 + TOP - 14.0,
        esc(envelope)
    );
    if let Some([blo, bhi]) = band {
        let (t, b) = (y(bhi.min(yhi)), y(blo.max(ylo)));
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{t:.1}" width="{plot_w}" height="{:.1}" fill="#2ca02c" fill-opacity="0.12"><title>envelope band {} to {} tok/s</title></rect>"##,
            (b - t).max(0.0),
            super::rate(blo),
            if bhi.is_finite() {
                super::rate(bhi)
            } else {
                "no upper edge".into()
            }
        );
        let label = if bhi.is_finite() {
            format!("band {}–{} tok/s", super::rate(blo), super::rate(bhi))
        } else {
            format!("band ≥ {} tok/s", super::rate(blo))
        };
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#2c7a2c">{}</text>"##,
            LEFT + plot_w - 4.0,
            t + 14.0,
            esc(&label)
        );
    }
    // Axes and y ticks.
    let _ = writeln!(
        out,
        r##"<path d="M{LEFT} {top} V{:.1} H{:.1}" fill="none" stroke="#333333"/>"##,
        top + plot_h,
        LEFT + plot_w
    );
    let s = step(yhi - ylo);
    let mut tick = (ylo / s).ceil() * s;
    while tick <= yhi + 1e-9 {
        let ty = y(tick);
        let _ = writeln!(
            out,
            r##"<path d="M{:.1} {ty:.1} H{:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT,
            LEFT + plot_w,
            LEFT - 6.0,
            ty + 4.0,
            super::rate(tick)
        );
        tick += s;
    }
    let _ = writeln!(
        out,
        r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">tokens/s</text>"#,
        LEFT - 50.0,
        top + plot_h / 2.0
    );
    // Date ticks: every distinct date, labelled unless it would overlap the
    // previous label; the last date is always labelled.
    let mut dates: Vec<time::Date> = points.iter().map(|b| b.date).collect();
    dates.sort();
    dates.dedup();
    for (d, label) in date_labels(&dates, &x) {
        let tx = x(d);
        let text = if label {
            format!(
                r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                top + plot_h + 18.0,
                format_date(d)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r##"<path d="M{tx:.1} {:.1} v5" stroke="#333333"/>{text}"##,
            top + plot_h
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">baseline date (UTC)</text>"#,
        LEFT + plot_w / 2.0,
        top + plot_h + 40.0
    );
    // One line per host class.
    let mut hosts: BTreeMap<&str, Vec<&Baseline>> = BTreeMap::new();
    for b in points {
        hosts
            .entry(b.host_class.as_deref().unwrap_or("?"))
            .or_default()
            .push(b);
    }
    for (k, (host, mut line)) in hosts.into_iter().enumerate() {
        line.sort_by_key(|b| b.date);
        let color = COLORS[k % COLORS.len()];
        let coords: Vec<String> = line
            .iter()
            .map(|b| {
                format!(
                    "{:.1},{:.1}",
                    x(b.date),
                    y(b.tokens_per_second.unwrap_or(0.0))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            coords.join(" ")
        );
        for b in &line {
            let r = b.tokens_per_second.unwrap_or(0.0);
            let _ = writeln!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{color}"><title>{} {}: {} tok/s ({})</title></circle>"#,
                x(b.date),
                y(r),
                format_date(b.date),
                esc(&b.name),
                super::rate(r),
                esc(host)
            );
        }
        let ly = top + 10.0 + 18.0 * k as f64;
        let lx = LEFT + plot_w + 16.0;
        let _ = writeln!(
            out,
            r#"<path d="M{lx:.1} {ly:.1} h18" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 24.0,
            ly + 4.0,
            esc(&shorten(host, 34))
        );
    }
}

/// Minimum distance between two date labels, in pixels.
const LABEL_GAP: f64 = 80.0;

/// Which dates get a label: left to right, skipping one too close to the last
/// labelled; the last date always has one (it replaces a close predecessor).
fn date_labels(dates: &[time::Date], x: &dyn Fn(time::Date) -> f64) -> Vec<(time::Date, bool)> {
    let mut out: Vec<(time::Date, bool)> = Vec::new();
    let mut last: Option<usize> = None;
    for (i, d) in dates.iter().enumerate() {
        let close = last.is_some_and(|l| x(*d) - x(dates[l]) < LABEL_GAP);
        let is_last = i + 1 == dates.len();
        if is_last && close {
            if let Some(l) = last.filter(|l| *l > 0) {
                out[l].1 = false;
            }
            out.push((*d, last != Some(0)));
        } else {
            out.push((*d, !close));
            if !close {
                last = Some(i);
            }
        }
    }
    out
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(step(10.0), 2.0);
        assert_eq!(step(23.0), 5.0);
        assert_eq!(step(0.9), 0.2);
    }

    #[test]
    fn close_dates_share_no_label_and_the_last_is_kept() {
        let d = |n: u8| time::Date::from_calendar_date(2026, time::Month::November, n).unwrap();
        let dates = [d(1), d(2), d(10), d(20), d(21)];
        let x = |day: time::Date| f64::from(day.day()) * 20.0;
        let labels: Vec<bool> = date_labels(&dates, &x)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(labels, [true, false, true, false, true]);
        // Two close dates only: the first keeps its label.
        let labels: Vec<bool> = date_labels(&dates[..2], &x)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(labels, [true, false]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
