//! The demo county (演示数据): `firegrid demo` fills an empty database with 湟中区 of 西宁市,
//! 青海省 — three townships of four villages of three groups, complete rosters (一长三员), a
//! police station with jurisdiction per township, the township committee bodies, a fire
//! department for the county, premises of every category — and one account per role with a
//! demo password. It writes through the importer: the demo is a CSV file like any other.
//!
//! The same generator makes synthetic counties of any size for measuring the importer
//! (`firegrid-bench county-csv FILE --townships 20 --villages 15 --groups 5`, the load tool).

use std::fmt::Write as _;

use diesel::prelude::*;

use crate::auth::roles::Role;
use crate::db::schema::{organizations, regions, users};
use crate::db::DbConn;
use crate::error::CommandError;
use crate::import::parse::COLUMNS;
use crate::import::ImportReport;
use crate::premises::model::PremisesCategory;

/// The password of every demo account. For a demonstration only.
pub const DEMO_PASSWORD: &str = "Huangzhong-demo-2026";

/// One account per role, all in or above 李家山镇 › 李家山村 › 一组.
pub const DEMO_ACCOUNTS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "global administrator"),
    ("demo.county", Role::CountyOfficial, "湟中区"),
    ("demo.township", Role::TownshipOfficial, "李家山镇 (镇长)"),
    ("demo.cadre", Role::VillageCadre, "李家山村"),
    ("demo.vpolice", Role::VillagePolice, "李家山村"),
    ("demo.leader", Role::GridLeader, "李家山村 一组"),
    ("demo.inspector", Role::GridInspector, "李家山村 一组"),
    ("demo.handler", Role::GridHandler, "李家山村 一组"),
    ("demo.coordinator", Role::GridCoordinator, "李家山村 一组"),
    (
        "demo.police",
        Role::PoliceOfficer,
        "李家山派出所 (jurisdiction 李家山镇)",
    ),
    (
        "demo.fire",
        Role::FireOfficer,
        "湟中区消防救援大队 (jurisdiction 湟中区)",
    ),
];

/// The shape of a generated county.
#[derive(Debug, Clone, Copy)]
pub struct CountySpec {
    pub townships: usize,
    pub villages: usize,
    pub groups: usize,
    pub premises_per_group: usize,
    /// Give the first township's first village and group the `demo.*` accounts.
    pub demo_accounts: bool,
}

impl CountySpec {
    /// The demo county: 3 townships × 4 villages × 3 groups.
    pub fn demo() -> Self {
        CountySpec {
            townships: 3,
            villages: 4,
            groups: 3,
            premises_per_group: 2,
            demo_accounts: true,
        }
    }
}

const TOWNSHIPS: &[(&str, &[&str])] = &[
    (
        "李家山镇",
        &["李家山村", "河拉台村", "新添堡村", "汉水沟村"],
    ),
    ("多巴镇", &["多巴一村", "扎麻隆村", "玉拉村", "燕尔沟村"]),
    ("鲁沙尔镇", &["鲁沙尔村", "阳坡村", "莲花湾村", "朱家庄村"]),
    ("上五庄镇", &["上五庄村", "包勒村", "拉目台村", "小寺尔村"]),
    ("拦隆口镇", &["拦隆口村", "卡阳村", "泥麻隆村", "佰什营村"]),
];
const NUMERALS: &[&str] = &["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "马", "韩", "祁", "赵", "陈", "杨", "冶", "才",
];
const GIVEN: &[&str] = &[
    "明", "华", "芳", "军", "霞", "强", "英", "伟", "兰", "海", "福", "贵", "成", "梅", "平", "卓",
    "玛", "措",
];

fn township_name(i: usize) -> String {
    TOWNSHIPS
        .get(i)
        .map_or_else(|| format!("第{}镇", i + 1), |t| t.0.to_string())
}

fn village_name(t: usize, v: usize) -> String {
    match TOWNSHIPS.get(t).and_then(|t| t.1.get(v)) {
        Some(n) => n.to_string(),
        None => format!("{}第{}村", township_name(t).trim_end_matches('镇'), v + 1),
    }
}

fn group_name(g: usize) -> String {
    NUMERALS
        .get(g)
        .map_or_else(|| format!("{}组", g + 1), |n| format!("{n}组"))
}

fn person_name(n: usize) -> String {
    format!(
        "{}{}{}",
        SURNAMES[n % SURNAMES.len()],
        GIVEN[(n / SURNAMES.len()) % GIVEN.len()],
        GIVEN[(n / 7 + 3) % GIVEN.len()]
    )
}

fn premises_name(c: PremisesCategory) -> &'static str {
    match c {
        PremisesCategory::Shop => "便民超市",
        PremisesCategory::Restaurant => "清真饭馆",
        PremisesCategory::Hotel => "家庭旅馆",
        PremisesCategory::Entertainment => "KTV歌厅",
        PremisesCategory::InternetCafe => "网吧",
        PremisesCategory::BeautyBath => "美容洗浴店",
        PremisesCategory::Workshop => "青稞加工坊",
        PremisesCategory::Clinic => "卫生室",
        PremisesCategory::School => "幼儿园",
        PremisesCategory::Residential => "居民楼院",
        PremisesCategory::SocialUnit => "供销社",
        PremisesCategory::Other => "农机仓库",
    }
}

/// Builds CSV rows by column name, in the import's column order.
struct Sheet {
    out: String,
}

impl Sheet {
    fn new() -> Self {
        let mut out = String::from("# firegrid import file (see README: bulk import)\n");
        out.push_str(&COLUMNS.join(","));
        out.push('\n');
        Sheet { out }
    }

    fn row(&mut self, cells: &[(&str, &str)]) {
        let line: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                let v = cells.iter().find(|(k, _)| k == c).map_or("", |(_, v)| *v);
                if v.contains([',', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.to_string()
                }
            })
            .collect();
        self.out.push_str(&line.join(","));
        self.out.push('\n');
    }
}

/// A county as an import file: regions from the province down, organisations, people with
/// complete rosters, premises cycling through every category, and supervisors.
pub fn county_csv(spec: &CountySpec) -> String {
    let mut s = Sheet::new();
    let mut n = 0usize;
    let mut next_user = |demo: Option<&str>| -> (String, String) {
        n += 1;
        let username = match demo {
            Some(d) if spec.demo_accounts => d.to_string(),
            _ => format!("139{:08}", n),
        };
        (username, person_name(n))
    };
    let person = |s: &mut Sheet,
                  user: &(String, String),
                  region: &str,
                  role: &str,
                  extra: &[(&str, &str)]| {
        let phone = if user.0.starts_with("139") {
            user.0.clone()
        } else {
            String::new()
        };
        let mut cells = vec![
            ("kind", "person"),
            ("username", user.0.as_str()),
            ("display_name", user.1.as_str()),
            ("phone", phone.as_str()),
            ("region_code", region),
            ("role", role),
        ];
        cells.extend_from_slice(extra);
        s.row(&cells);
    };

    s.row(&[
        ("kind", "region"),
        ("level", "province"),
        ("code", "630000"),
        ("name", "青海省"),
    ]);
    s.row(&[
        ("kind", "region"),
        ("level", "prefecture"),
        ("code", "630100"),
        ("parent_code", "630000"),
        ("name", "西宁市"),
    ]);
    let county = "630106";
    let county_official = next_user(Some("demo.county"));
    s.row(&[
        ("kind", "region"),
        ("level", "county"),
        ("code", county),
        ("parent_code", "630100"),
        ("name", "湟中区"),
    ]);
    s.row(&[
        ("kind", "organization"),
        ("org_kind", "fire_department"),
        ("name", "湟中区消防救援大队"),
        ("region_code", county),
        ("jurisdiction", county),
    ]);
    person(&mut s, &county_official, county, "county_official", &[]);
    let fire = next_user(Some("demo.fire"));
    person(
        &mut s,
        &fire,
        county,
        "fire_officer",
        &[("organization", "湟中区消防救援大队")],
    );

    let backgrounds = [
        (
            "grid_leader",
            ["patrol_member", "forest_ranger", "grassland_keeper"],
        ),
        (
            "grid_inspector",
            [
                "property_manager",
                "security_guard",
                "micro_fire_station_member",
            ],
        ),
        (
            "grid_handler",
            [
                "micro_fire_station_member",
                "security_guard",
                "property_manager",
            ],
        ),
        (
            "grid_coordinator",
            ["building_head", "fire_volunteer", "unit_manager"],
        ),
    ];
    let demo_grid = [
        "demo.leader",
        "demo.inspector",
        "demo.handler",
        "demo.coordinator",
    ];
    let mut premises_n = 0usize;
    for t in 0..spec.townships {
        let first_t = t == 0;
        let tcode = format!("{county}{:03}", 101 + t);
        let tname = township_name(t);
        let short = tname.trim_end_matches('镇').to_string();
        s.row(&[
            ("kind", "region"),
            ("level", "township"),
            ("code", &tcode),
            ("parent_code", county),
            ("name", &tname),
            ("supervisor", &county_official.0),
        ]);
        let station = format!("{short}派出所");
        s.row(&[
            ("kind", "organization"),
            ("org_kind", "police_station"),
            ("name", &station),
            ("region_code", &tcode),
            ("jurisdiction", &tcode),
        ]);
        for (kind, suffix) in [
            ("governance_office", "综治办"),
            ("market_supervision", "市场监管所"),
            ("patrol_team", "治安巡防队"),
            ("township_fire_team", "政府专职消防队"),
        ] {
            let name = format!("{tname}{suffix}");
            s.row(&[
                ("kind", "organization"),
                ("org_kind", kind),
                ("name", &name),
                ("region_code", &tcode),
            ]);
        }
        let head = next_user(first_t.then_some("demo.township"));
        person(
            &mut s,
            &head,
            &tcode,
            "township_official",
            &[("title", "镇长（主任）")],
        );
        let deputy = next_user(None);
        person(
            &mut s,
            &deputy,
            &tcode,
            "township_official",
            &[("title", "分管副镇长（副主任）")],
        );
        let officer = next_user(first_t.then_some("demo.police"));
        person(
            &mut s,
            &officer,
            &tcode,
            "police_officer",
            &[("organization", &station)],
        );

        for v in 0..spec.villages {
            let first_v = first_t && v == 0;
            let vcode = format!("{tcode}{:03}", v + 1);
            let vname = village_name(t, v);
            let supervisor = if v % 2 == 0 { &head } else { &deputy };
            s.row(&[
                ("kind", "region"),
                ("level", "village"),
                ("code", &vcode),
                ("parent_code", &tcode),
                ("name", &vname),
                ("supervisor", &supervisor.0),
            ]);
            if v == 0 {
                let name = format!("{vname}微型消防站");
                s.row(&[
                    ("kind", "organization"),
                    ("org_kind", "micro_fire_station"),
                    ("name", &name),
                    ("region_code", &vcode),
                ]);
            }
            let cadre = next_user(first_v.then_some("demo.cadre"));
            person(&mut s, &cadre, &vcode, "village_cadre", &[]);
            let vpolice = next_user(first_v.then_some("demo.vpolice"));
            person(&mut s, &vpolice, &vcode, "village_police", &[]);

            for g in 0..spec.groups {
                let first_g = first_v && g == 0;
                let gcode = format!("{vcode}{:03}", g + 1);
                let gname = group_name(g);
                let supervisor = if g % 2 == 0 { &cadre } else { &vpolice };
                s.row(&[
                    ("kind", "region"),
                    ("level", "group"),
                    ("code", &gcode),
                    ("parent_code", &vcode),
                    ("name", &gname),
                    ("supervisor", &supervisor.0),
                ]);
                for (i, (role, bgs)) in backgrounds.iter().enumerate() {
                    let user = next_user(first_g.then_some(demo_grid[i]));
                    person(
                        &mut s,
                        &user,
                        &gcode,
                        role,
                        &[("background", bgs[(t + v + g) % 3])],
                    );
                }
                for _ in 0..spec.premises_per_group {
                    let cat = PremisesCategory::ALL[premises_n % PremisesCategory::ALL.len()];
                    premises_n += 1;
                    let name = format!("{vname}{gname}{}", premises_name(cat));
                    let address = format!("湟中区{tname}{vname}{gname}{}号", premises_n % 90 + 1);
                    let lat = format!(
                        "{:.5}",
                        36.40 + (t as f64) * 0.04 + (v as f64) * 0.006 + (g as f64) * 0.001
                    );
                    let lng = format!(
                        "{:.5}",
                        101.45
                            + (t as f64) * 0.05
                            + (v as f64) * 0.007
                            + (premises_n % 7) as f64 * 0.0005
                    );
                    let contact = person_name(premises_n + 7);
                    let phone = format!("138{:08}", premises_n);
                    let signage = if premises_n.is_multiple_of(3) {
                        "否"
                    } else {
                        "是"
                    };
                    s.row(&[
                        ("kind", "premises"),
                        ("region_code", &gcode),
                        ("name", &name),
                        ("category", cat.as_str()),
                        ("address", &address),
                        ("lat", &lat),
                        ("lng", &lng),
                        ("contact_name", &contact),
                        ("contact_phone", &phone),
                        ("signage", signage),
                    ]);
                }
            }
        }
    }
    s.out
}

/// What `firegrid demo` did.
pub struct DemoReport {
    pub import: ImportReport,
    pub accounts: Vec<(&'static str, Role, &'static str)>,
}

/// Fills an empty database with the demo county; refuses a database that holds any region,
/// organisation or account.
pub fn load(conn: &mut DbConn) -> Result<DemoReport, CommandError> {
    let err = |e: crate::error::AppError| {
        let lines: Vec<String> = e
            .errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        if lines.is_empty() {
            CommandError::from(e)
        } else {
            CommandError::new(lines.join("\n"))
        }
    };
    let count = |conn: &mut DbConn| -> Result<i64, diesel::result::Error> {
        let r: i64 = regions::table.count().get_result(conn)?;
        let o: i64 = organizations::table.count().get_result(conn)?;
        let u: i64 = users::table.count().get_result(conn)?;
        Ok(r + o + u)
    };
    let held = count(conn)
        .map_err(|e| CommandError::caused_by("cannot count what the database holds", e))?;
    if held > 0 {
        return Err(CommandError::new(
            "the database already holds data; the demo county loads only into an empty database \
                    (use a fresh FIREGRID_DATA_DIR or FIREGRID_DATABASE_URL)",
        ));
    }
    let csv = county_csv(&CountySpec::demo());
    let import = crate::import::run_as_system(conn, csv.as_bytes()).map_err(err)?;
    crate::bootstrap::create_user(conn, "admin", "系统管理员", DEMO_PASSWORD, None, true)?;
    for (username, _, _) in DEMO_ACCOUNTS.iter().filter(|a| a.0 != "admin") {
        crate::bootstrap::reset_password(conn, username, DEMO_PASSWORD)?;
    }
    Ok(DemoReport {
        import,
        accounts: DEMO_ACCOUNTS.to_vec(),
    })
}

/// The demo accounts as a table for the terminal.
pub fn accounts_table(report: &DemoReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<18} {:<18} where", "username", "role");
    for (u, r, w) in &report.accounts {
        let _ = writeln!(out, "{u:<18} {:<18} {w}", r.as_str());
    }
    let _ = writeln!(out, "password of every demo account: {DEMO_PASSWORD}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_county_parses_and_has_every_category_and_role() {
        let csv = county_csv(&CountySpec::demo());
        let rows = crate::import::parse(csv.as_bytes()).expect("the demo file is valid");
        for c in PremisesCategory::ALL {
            assert!(csv.contains(&format!(",{},", c.as_str())), "category {c}");
        }
        for (u, role, _) in DEMO_ACCOUNTS.iter().filter(|a| a.0 != "admin") {
            assert!(csv.contains(&format!(",{u},")), "{u}");
            assert!(csv.contains(role.as_str()), "{role}");
        }
        // 1 + 1 + 1 regions above, 3 townships, 12 villages, 36 groups.
        let regions = rows
            .iter()
            .filter(|r| matches!(r, crate::import::Row::Region { .. }))
            .count();
        assert_eq!(regions, 3 + 3 + 12 + 36);
    }
}
