//! The bulletin as one self-contained HTML page: Chinese, A4 print styles, charts as inline SVG,
//! no script, no external file of any kind (fonts are the reader's own CJK fonts).

use std::fmt::Write;

use crate::bulletins::chart::{self, Series};
use crate::bulletins::{days, esc, pct, Bulletin};
use crate::exports::zh;
use crate::stats::figures::Figures;

const STYLE: &str = r#"
@page { size: A4; margin: 16mm 15mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimSun", sans-serif;
       font-size: 10.5pt; line-height: 1.5; color: #111; max-width: 180mm; margin: 0 auto; padding: 6mm 0; }
header { text-align: center; border-bottom: 3px double #b00000; margin-bottom: 4mm; }
header .masthead { color: #b00000; font-size: 22pt; font-weight: bold; letter-spacing: 4px; margin: 0; }
header .issue { margin: 1mm 0 2mm; }
h2 { font-size: 13pt; margin: 5mm 0 2mm; border-left: 4px solid #b00000; padding-left: 2mm; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 2mm 0; }
th, td { border: 1px solid #888; padding: 1mm 1.5mm; text-align: center; }
th { background: #f1e4e4; }
td.text { text-align: left; }
svg.chart { display: block; width: 100%; height: auto; margin: 2mm 0; }
section { break-inside: avoid; page-break-inside: avoid; }
footer { margin-top: 6mm; border-top: 1px solid #888; font-size: 8.5pt; color: #444; }
@media print { body { padding: 0; } }
"#;

pub fn render(b: &Bulletin) -> String {
    let t = &b.summary.total;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>{STYLE}</style></head><body>"#,
        title = esc(&b.title())
    );
    let _ = write!(
        s,
        r#"<header><p class="masthead">综治信息简报</p><p class="issue">{region} · 消防网格化管理 · {y}年{m}月</p></header>"#,
        region = esc(&b.region.name),
        y = b.year,
        m = b.month
    );
    let _ = write!(
        s,
        r#"<section id="overview"><h2>一、总体情况</h2><p>{y}年{m}月，{region}共发现火灾隐患 <b>{found}</b> 处（其中重大火灾隐患 {major} 处，群众举报 {public} 处），本月整改完成 <b>{fixed}</b> 处；本月发现隐患的整改率为 <b>{rate}</b>，整改平均用时（中位数）{median} 天。截至月末尚未办结 {open} 处，其中逾期 {overdue} 处、重大隐患 {major_open} 处、挂牌督办 {listed} 处。网格“一长三员”达标率 {roster}；群众举报 48 小时内首次答复率 {answered}。</p>"#,
        y = b.year,
        m = b.month,
        region = esc(&b.region.name),
        found = t.found,
        major = t.found_by_severity.major,
        public = t.found_by_source.public,
        fixed = t.rectified,
        rate = pct(t.rectification_rate),
        median = days(t.days_to_close_median),
        open = t.open_at_end,
        overdue = t.overdue_at_end,
        major_open = t.major_open_at_end,
        listed = t.listed_open_at_end,
        roster = pct(t.roster_compliance),
        answered = pct(t.public_first_response_share),
    );
    s.push_str(&figures_table(std::iter::once(t)));
    s.push_str("</section>");

    // Trend.
    let labels: Vec<String> = b.trend.iter().map(|(m, _, _)| m[2..].to_string()).collect();
    s.push_str(r#"<section id="trend"><h2>二、近十二个月隐患发现与整改趋势</h2>"#);
    s.push_str(&chart::grouped_bars(
        "chart-trend",
        "每月发现与整改隐患数",
        &labels,
        &[
            Series {
                name: "发现",
                color: "#c0392b",
            },
            Series {
                name: "整改",
                color: "#2471a3",
            },
        ],
        &[
            b.trend.iter().map(|t| t.1).collect(),
            b.trend.iter().map(|t| t.2).collect(),
        ],
    ));
    s.push_str("</section>");

    // Categories.
    s.push_str(r#"<section id="categories"><h2>三、本月隐患类别</h2>"#);
    if b.by_category.is_empty() {
        s.push_str("<p>本月未发现隐患。</p>");
    } else {
        let rows: Vec<(String, i64)> = b
            .by_category
            .iter()
            .map(|(c, n)| (zh::category(*c).to_string(), *n))
            .collect();
        s.push_str(&chart::horizontal_bars(
            "chart-categories",
            "本月发现隐患按类别",
            &rows,
            "#c0392b",
        ));
    }
    s.push_str("</section>");

    // Children.
    let kids = &b.summary.children;
    s.push_str(r#"<section id="regions"><h2>四、各地区情况</h2>"#);
    if kids.is_empty() {
        s.push_str("<p>本区域无下级区域。</p>");
    } else {
        let labels: Vec<String> = kids.iter().map(|f| f.region.name.clone()).collect();
        s.push_str(&chart::grouped_bars(
            "chart-regions",
            "本月各地区发现与整改隐患数",
            &labels,
            &[
                Series {
                    name: "发现",
                    color: "#c0392b",
                },
                Series {
                    name: "整改",
                    color: "#2471a3",
                },
                Series {
                    name: "月末逾期",
                    color: "#d68910",
                },
            ],
            &[
                kids.iter().map(|f| f.found).collect(),
                kids.iter().map(|f| f.rectified).collect(),
                kids.iter().map(|f| f.overdue_at_end).collect(),
            ],
        ));
        s.push_str(&figures_table(kids.iter()));
    }
    s.push_str("</section>");

    // Ranking.
    s.push_str(r#"<section id="ranking"><h2>五、综合考评排名（本月）</h2>"#);
    if b.ranking.items.is_empty() {
        s.push_str("<p>无可排名的下级区域。</p>");
    } else {
        s.push_str("<table><thead><tr><th>名次</th><th>地区</th><th>综合得分</th>");
        for w in &b.ranking.weights {
            let _ = write!(s, "<th>{}（权重{}）</th>", w.component.zh(), w.weight);
        }
        s.push_str("</tr></thead><tbody>");
        for it in &b.ranking.items {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="text">{}</td><td>{:.2}</td>"#,
                it.rank,
                esc(&it.region.name),
                it.score
            );
            for c in &it.components {
                let _ = write!(s, "<td>{:.1}%</td>", c.value * 100.0);
            }
            s.push_str("</tr>");
        }
        let _ = write!(
            s,
            r#"</tbody></table><p style="font-size:8.5pt">计分方法：综合得分 = 100 × Σ(权重 × 分项值) ÷ Σ权重；重大隐患清零 = 1 ÷ (1 + 月末未办结重大隐患数)。同分依次比较整改率、未办结重大隐患数、区划代码。</p>"#
        );
    }
    s.push_str("</section>");

    // Board.
    let _ = write!(
        s,
        r#"<section id="board"><h2>六、逾期及挂牌督办隐患（截至 {}）</h2>"#,
        b.local(b.board.as_of.naive_utc())
    );
    let cases: Vec<_> = b
        .board
        .counties
        .iter()
        .flat_map(|c| {
            c.townships
                .iter()
                .flat_map(move |t| t.cases.iter().map(move |k| (c, t, k)))
        })
        .collect();
    if cases.is_empty() {
        s.push_str("<p>无逾期或挂牌督办隐患。</p>");
    } else {
        s.push_str("<table><thead><tr><th>案件编号</th><th>隐患</th><th>乡镇</th><th>组</th><th>层级</th><th>期限</th><th>逾期天数</th><th>挂牌</th><th>责任督导人</th><th>派出所</th><th>最近处理</th></tr></thead><tbody>");
        for (_, t, k) in cases {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&k.case_no),
                esc(&k.title),
                esc(&t.township.name),
                esc(&k.group.name),
                zh::level(k.level),
                k.deadline.map_or("—".into(), |d| b.local(d.naive_utc())),
                k.days_overdue.map_or("—".into(), |d| d.to_string()),
                if k.supervision_listed { "是" } else { "否" },
                k.responsible_supervisor
                    .as_ref()
                    .map_or("未指定".into(), |p| esc(&p.display_name)),
                t.police_station
                    .as_ref()
                    .map_or("—".into(), |p| esc(&p.name)),
                esc(&format!(
                    "{} {}",
                    b.local(k.last_action.at.naive_utc()),
                    k.last_action.actor.as_deref().unwrap_or("系统")
                )),
            );
        }
        s.push_str("</tbody></table>");
    }
    s.push_str("</section>");
    let _ = write!(
        s,
        r#"<footer>统计期间：{from} 至 {to}（{tz}），数据截至 {end}；统计口径见系统说明“Statistics: what each figure means”。生成时间 {gen}。</footer></body></html>"#,
        from = b.period.from,
        to = b.period.to,
        tz = esc(&b.tz.to_string()),
        end = b.local(b.period.end),
        gen = b.local(b.generated_at),
    );
    s
}

/// A table of figures, one row per region.
fn figures_table<'a>(rows: impl Iterator<Item = &'a Figures>) -> String {
    let mut s = String::from(
        "<table><thead><tr><th>地区</th><th>发现</th><th>重大</th><th>整改</th><th>整改率</th><th>按期率</th><th>月末未办结</th><th>月末逾期</th><th>挂牌督办</th><th>不属实/重复</th><th>一长三员达标率</th><th>举报48小时答复率</th></tr></thead><tbody>",
    );
    for f in rows {
        let _ = write!(
            s,
            r#"<tr><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&f.region.name),
            f.found,
            f.found_by_severity.major,
            f.rectified,
            pct(f.rectification_rate),
            pct(f.closed_on_time_share),
            f.open_at_end,
            f.overdue_at_end,
            f.listed_open_at_end,
            f.closed_unfounded + f.closed_duplicate + f.rejected,
            pct(f.roster_compliance),
            pct(f.public_first_response_share),
        );
    }
    s.push_str("</tbody></table>");
    s
}
