//! Charts as inline SVG (no script, no font file, nothing fetched): grouped vertical bars and
//! horizontal bars, each bar with a `<title>` tooltip and its value printed above or beside it.

use std::fmt::Write;

use crate::bulletins::esc;

/// A series: its name and colour.
pub struct Series {
    pub name: &'static str,
    pub color: &'static str,
}

/// A rounded-up axis maximum (1, 2, 5 × 10ⁿ) and its tick step.
fn axis(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step * 4 >= max {
                return (m * step * 4, m * step);
            }
        }
        step *= 10;
    }
}

/// Grouped vertical bars: one group per label, one bar per series.
pub fn grouped_bars(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series],
    values: &[Vec<i64>],
) -> String {
    let (w, h) = (680.0, 280.0);
    let (left, right, top, bottom) = (44.0, 12.0, 34.0, 56.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = values.iter().flatten().copied().max().unwrap_or(0);
    let (axis_max, step) = axis(max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title><text x="{cx}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(title),
        cx = w / 2.0
    );
    // Grid and axis labels.
    let mut v = 0;
    while v <= axis_max {
        let y = top + plot_h - plot_h * v as f64 / axis_max as f64;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10">{v}</text>"##,
            x2 = w - right,
            tx = left - 4.0,
            ty = y + 3.0
        );
        v += step;
    }
    let n = labels.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).min(28.0);
    for (i, label) in labels.iter().enumerate() {
        let gx = left + group_w * i as f64 + (group_w - bar_w * series.len() as f64) / 2.0;
        for (k, ser) in series.iter().enumerate() {
            let val = values.get(k).and_then(|vs| vs.get(i)).copied().unwrap_or(0);
            let bh = plot_h * val as f64 / axis_max as f64;
            let x = gx + bar_w * k as f64;
            let y = top + plot_h - bh;
            let _ = write!(
                s,
                r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{c}"><title>{l} {n}: {val}</title></rect>"#,
                bw = bar_w - 1.0,
                c = ser.color,
                l = esc(label),
                n = esc(ser.name)
            );
            if val > 0 {
                let _ = write!(
                    s,
                    r#"<text x="{tx:.1}" y="{ty:.1}" text-anchor="middle" font-size="9">{val}</text>"#,
                    tx = x + bar_w / 2.0,
                    ty = y - 2.0
                );
            }
        }
        let _ = write!(
            s,
            r#"<text x="{tx:.1}" y="{ty:.1}" text-anchor="middle" font-size="10">{l}</text>"#,
            tx = left + group_w * (i as f64 + 0.5),
            ty = top + plot_h + 14.0,
            l = esc(&short(label, 7))
        );
    }
    // Legend.
    for (k, ser) in series.iter().enumerate() {
        let x = left + 120.0 * k as f64;
        let y = h - 14.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{y1}" width="10" height="10" fill="{c}"/><text x="{tx}" y="{y}" font-size="11">{n}</text>"#,
            y1 = y - 9.0,
            c = ser.color,
            tx = x + 14.0,
            n = esc(ser.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per label, longest first as given.
pub fn horizontal_bars(id: &str, title: &str, rows: &[(String, i64)], color: &str) -> String {
    let row_h = 22.0;
    let (w, left, right, top) = (680.0, 190.0, 40.0, 30.0);
    let h = top + row_h * rows.len().max(1) as f64 + 10.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}"><title>{t}</title><text x="{cx}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(title),
        cx = w / 2.0
    );
    for (i, (label, val)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bw = (w - left - right) * *val as f64 / max as f64;
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty:.1}" text-anchor="end" font-size="11">{l}</text><rect class="bar" x="{left}" y="{ry:.1}" width="{bw:.1}" height="{bh}" fill="{color}"><title>{l}: {val}</title></rect><text x="{vx:.1}" y="{ty:.1}" font-size="10">{val}</text>"#,
            lx = left - 6.0,
            ty = y + 14.0,
            l = esc(label),
            ry = y + 3.0,
            bh = row_h - 6.0,
            vx = left + bw + 4.0
        );
    }
    s.push_str("</svg>");
    s
}

fn short(s: &str, n: usize) -> String {
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
    fn axes_round_up() {
        assert_eq!(axis(0), (4, 1));
        assert_eq!(axis(7), (8, 2));
        assert_eq!(axis(37), (40, 10));
        assert_eq!(axis(1234), (2000, 500));
    }

    #[test]
    fn bars_have_heights_and_escape_labels() {
        let svg = grouped_bars(
            "t",
            "趋势",
            &["<a>".into(), "b".into()],
            &[Series {
                name: "发现",
                color: "#c00",
            }],
            &[vec![3, 0]],
        );
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        let h = horizontal_bars("c", "类别", &[("电气".into(), 5)], "#06c");
        assert!(h.contains(r#"width="450.0""#), "{h}");
    }
}
