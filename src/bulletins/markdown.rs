//! The bulletin as Markdown (the same numbers as the HTML; charts become tables).

use std::fmt::Write;

use crate::bulletins::{days, pct, Bulletin};
use crate::exports::zh;
use crate::stats::figures::Figures;

/// Table cells keep their text on one line and cannot end a cell early.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn render(b: &Bulletin) -> String {
    let t = &b.summary.total;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# 综治信息简报\n\n**{}** · 消防网格化管理 · {}年{}月\n",
        cell(&b.region.name),
        b.year,
        b.month
    );
    let _ = writeln!(
        s,
        "## 一、总体情况\n\n{}年{}月，{}共发现火灾隐患 **{}** 处（其中重大火灾隐患 {} 处，群众举报 {} 处），本月整改完成 **{}** 处；本月发现隐患的整改率为 **{}**，整改用时中位数 {} 天。截至月末尚未办结 {} 处，其中逾期 {} 处、重大隐患 {} 处、挂牌督办 {} 处。网格“一长三员”达标率 {}；群众举报 48 小时内首次答复率 {}。\n",
        b.year, b.month, cell(&b.region.name), t.found, t.found_by_severity.major, t.found_by_source.public,
        t.rectified, pct(t.rectification_rate), days(t.days_to_close_median), t.open_at_end,
        t.overdue_at_end, t.major_open_at_end, t.listed_open_at_end, pct(t.roster_compliance),
        pct(t.public_first_response_share)
    );
    s.push_str(&figures_table(std::iter::once(t)));

    s.push_str(
        "\n## 二、近十二个月隐患发现与整改趋势\n\n| 月份 | 发现 | 整改 |\n|---|---:|---:|\n",
    );
    for (m, found, fixed) in &b.trend {
        let _ = writeln!(s, "| {m} | {found} | {fixed} |");
    }

    s.push_str("\n## 三、本月隐患类别\n\n");
    if b.by_category.is_empty() {
        s.push_str("本月未发现隐患。\n");
    } else {
        s.push_str("| 类别 | 数量 |\n|---|---:|\n");
        for (c, n) in &b.by_category {
            let _ = writeln!(s, "| {} | {n} |", zh::category(*c));
        }
    }

    s.push_str("\n## 四、各地区情况\n\n");
    if b.summary.children.is_empty() {
        s.push_str("本区域无下级区域。\n");
    } else {
        s.push_str(&figures_table(b.summary.children.iter()));
    }

    s.push_str("\n## 五、综合考评排名（本月）\n\n");
    if b.ranking.items.is_empty() {
        s.push_str("无可排名的下级区域。\n");
    } else {
        s.push_str("| 名次 | 地区 | 综合得分 |");
        for w in &b.ranking.weights {
            let _ = write!(s, " {}（权重{}） |", w.component.zh(), w.weight);
        }
        s.push_str("\n|---:|---|---:|");
        for _ in &b.ranking.weights {
            s.push_str("---:|");
        }
        s.push('\n');
        for it in &b.ranking.items {
            let _ = write!(
                s,
                "| {} | {} | {:.2} |",
                it.rank,
                cell(&it.region.name),
                it.score
            );
            for c in &it.components {
                let _ = write!(s, " {:.1}% |", c.value * 100.0);
            }
            s.push('\n');
        }
        s.push_str("\n计分方法：综合得分 = 100 × Σ(权重 × 分项值) ÷ Σ权重；重大隐患清零 = 1 ÷ (1 + 月末未办结重大隐患数)。同分依次比较整改率、未办结重大隐患数、区划代码。\n");
    }

    let _ = writeln!(
        s,
        "\n## 六、逾期及挂牌督办隐患（截至 {}）\n",
        b.local(b.board.as_of.naive_utc())
    );
    let mut any = false;
    for c in &b.board.counties {
        for t in &c.townships {
            for k in &t.cases {
                if !any {
                    s.push_str("| 案件编号 | 隐患 | 乡镇 | 组 | 层级 | 期限 | 逾期天数 | 挂牌 | 责任督导人 | 派出所 | 最近处理 |\n|---|---|---|---|---|---|---:|---|---|---|---|\n");
                    any = true;
                }
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    cell(&k.case_no),
                    cell(&k.title),
                    cell(&t.township.name),
                    cell(&k.group.name),
                    zh::level(k.level),
                    k.deadline.map_or("—".into(), |d| b.local(d.naive_utc())),
                    k.days_overdue.map_or("—".into(), |d| d.to_string()),
                    if k.supervision_listed { "是" } else { "否" },
                    k.responsible_supervisor
                        .as_ref()
                        .map_or("未指定".into(), |p| cell(&p.display_name)),
                    t.police_station
                        .as_ref()
                        .map_or("—".into(), |p| cell(&p.name)),
                    cell(&format!(
                        "{} {}",
                        b.local(k.last_action.at.naive_utc()),
                        k.last_action.actor.as_deref().unwrap_or("系统")
                    )),
                );
            }
        }
    }
    if !any {
        s.push_str("无逾期或挂牌督办隐患。\n");
    }
    let _ = writeln!(
        s,
        "\n---\n统计期间：{} 至 {}（{}），数据截至 {}；生成时间 {}。",
        b.period.from,
        b.period.to,
        b.tz,
        b.local(b.period.end),
        b.local(b.generated_at)
    );
    s
}

fn figures_table<'a>(rows: impl Iterator<Item = &'a Figures>) -> String {
    let mut s = String::from("| 地区 | 发现 | 重大 | 整改 | 整改率 | 按期率 | 月末未办结 | 月末逾期 | 挂牌督办 | 不属实/重复 | 一长三员达标率 | 举报48小时答复率 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for f in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&f.region.name),
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
    s
}
