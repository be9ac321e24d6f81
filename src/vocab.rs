//! The fixed vocabularies of SPEC §10, in one place. Each is a Rust enum declared once with
//! `text_enum!`, and that one declaration gives it its wire strings (serde), its OpenAPI schema
//! (the same strings, so a generated client sends what the server accepts), and its database
//! text (diesel `ToSql`/`FromSql` for `Text` on SQLite, PostgreSQL and the `DbConn` enum), so
//! row structs hold the enum and no store parses vocabulary text.
//!
//! A value read from the database that is not in the vocabulary is a deserialization error
//! naming the enum, the column(s) it is stored in and the value: never a default.
//!
//! Behaviour that belongs to a domain (a level's child, a role's binding) stays with the domain
//! as an inherent `impl` (`regions::model`, `auth::roles`, …); only the words live here.

/// Declares a string vocabulary:
/// `text_enum!(pub Name in "table.column" { A => "a", B => "b" })`.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[doc = $doc:literal])*
        pub $name:ident in $columns:literal {
            $($(#[doc = $vdoc:literal])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[doc = ""]
        #[doc = concat!("Stored in `", $columns, "`.")]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[doc = $vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Where the database keeps it (named in deserialization errors).
            pub const COLUMNS: &'static str = $columns;

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a submitted value; `None` for anything outside the vocabulary.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Written by hand rather than derived: the derive does not see the `rename` above and
        // documented the Rust variant names (`"Province"`) instead of the wire's.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                $crate::vocab::string_enum_schema(doc, $name::ALL.iter().map(|v| v.as_str()))
            }
        }

        impl utoipa::ToSchema for $name {}

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                        bytes,
                    )?;
                $name::parse(&text).ok_or_else(|| {
                    $crate::vocab::unknown(stringify!($name), $columns, &text).into()
                })
            }
        }
    };
}

/// The OpenAPI schema of a vocabulary: a string with exactly its wire values.
pub fn string_enum_schema<'a>(
    doc: &[&str],
    values: impl Iterator<Item = &'a str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    // Doc lines as utoipa's derive joins them.
    let description = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description((!description.is_empty()).then_some(description))
        .enum_values(Some(values))
        .build()
        .into()
}

/// The error for a stored value outside its vocabulary.
pub fn unknown(vocabulary: &str, columns: &str, value: &str) -> String {
    format!("{columns} holds {value:?}, which is not a {vocabulary}")
}

// ---- regions, organisations, people (SPEC §2–§4) ----

text_enum!(
    /// The six levels of the region tree. Township (乡镇, big grid 大网格), village (村/社区,
    /// medium grid 中网格) and resident group (组, small grid 小网格) are the three grid tiers.
    pub RegionLevel in "regions.level" {
        Province => "province",
        Prefecture => "prefecture",
        County => "county",
        Township => "township",
        Village => "village",
        Group => "group",
    }
);

text_enum!(
    /// Kinds of organisation (SPEC §2).
    pub OrgKind in "organizations.kind, organization_jurisdictions.kind" {
        /// 公安派出所: jurisdiction over one or more townships.
        PoliceStation => "police_station",
        /// 消防部门: jurisdiction over one or more counties.
        FireDepartment => "fire_department",
        /// 微型消防站: attached to a township, village or group.
        MicroFireStation => "micro_fire_station",
        /// 综治办: sits on the township fire-safety committee.
        GovernanceOffice => "governance_office",
        /// 工商所 (market supervision): sits on the township committee.
        MarketSupervision => "market_supervision",
        /// 治安巡防队: sits on the township committee.
        PatrolTeam => "patrol_team",
        /// 乡镇消防队: sits on the township committee.
        TownshipFireTeam => "township_fire_team",
    }
);

text_enum!(
    /// A role a user holds, bound to a region or an organisation.
    pub Role in "role_assignments.role" {
        /// 管理员: keeps the grid tree, accounts and rosters of a region (or everything, unbound).
        Admin => "admin",
        /// 县级领导小组: oversees a county.
        CountyOfficial => "county_official",
        /// 乡镇消防安全委员会成员: sets deadlines, hands overdue cases to the police.
        TownshipOfficial => "township_official",
        /// 驻村干部: village (medium grid) staff.
        VillageCadre => "village_cadre",
        /// 村警/辅警: village police.
        VillagePolice => "village_police",
        /// 网格长: the one leader of a group (small grid).
        GridLeader => "grid_leader",
        /// 巡查员: patrols the group daily.
        GridInspector => "grid_inspector",
        /// 处置员: handles hazards on site.
        GridHandler => "grid_handler",
        /// 协管员: coordinates with buildings and units.
        GridCoordinator => "grid_coordinator",
        /// 公安派出所消防民警: scope is the station's jurisdiction.
        PoliceOfficer => "police_officer",
        /// 消防部门: scope is the fire department's jurisdiction.
        FireOfficer => "fire_officer",
    }
);

text_enum!(
    /// A roster member's background (SPEC §3, seed §(三)).
    pub Background in "role_assignments.background" {
        PatrolMember => "patrol_member",
        ForestRanger => "forest_ranger",
        GrasslandKeeper => "grassland_keeper",
        PropertyManager => "property_manager",
        SecurityGuard => "security_guard",
        MicroFireStationMember => "micro_fire_station_member",
        BuildingHead => "building_head",
        FireVolunteer => "fire_volunteer",
        UnitManager => "unit_manager",
        Other => "other",
    }
);

text_enum!(
    /// Kind of premises (SPEC §2, §10). The first nine are the nine small places (九小场所).
    pub PremisesCategory in "premises.category" {
        /// 小商店
        Shop => "shop",
        /// 小餐饮
        Restaurant => "restaurant",
        /// 小旅馆
        Hotel => "hotel",
        /// 小歌舞娱乐场所
        Entertainment => "entertainment",
        /// 小网吧
        InternetCafe => "internet_cafe",
        /// 小美容洗浴场所
        BeautyBath => "beauty_bath",
        /// 小加工作坊
        Workshop => "workshop",
        /// 小诊所
        Clinic => "clinic",
        /// 小学校、幼儿园
        School => "school",
        /// 居民楼院
        Residential => "residential",
        /// 社会单位
        SocialUnit => "social_unit",
        Other => "other",
    }
);

// ---- hazard cases (火灾隐患 / 消防违法行为, SPEC §5) ----

text_enum!(
    /// What kind of hazard.
    pub Category in "hazards.category" {
        /// 电气线路
        Electrical => "electrical",
        /// 堵塞疏散通道、消防车通道
        BlockedEscapeRoute => "blocked_escape_route",
        /// 易燃物品堆放
        FlammableStorage => "flammable_storage",
        /// 消防器材缺失或过期
        EquipmentMissing => "equipment_missing",
        /// 违规用火
        OpenFlame => "open_flame",
        /// 三合一 (living, storage and business under one roof)
        MixedUse => "mixed_use",
        /// 违规储存燃料
        IllegalFuel => "illegal_fuel",
        Other => "other",
    }
);

text_enum!(
    pub Severity in "hazards.severity" {
        General => "general",
        /// 重大火灾隐患
        Major => "major",
    }
);

text_enum!(
    pub Source in "hazards.source" {
        /// 巡查 (daily patrol)
        Patrol => "patrol",
        /// 检查 (inspection)
        Inspection => "inspection",
        /// 群众举报 (the public)
        Public => "public",
        Other => "other",
    }
);

text_enum!(
    pub Status in "hazards.status, hazard_events.from_status, hazard_events.to_status" {
        /// A public report waiting for village staff to verify it.
        PendingVerification => "pending_verification",
        Open => "open",
        /// Rectification submitted; waiting for the reviewer.
        AwaitingReview => "awaiting_review",
        Closed => "closed",
        /// Unfounded report.
        Rejected => "rejected",
    }
);

text_enum!(
    /// The tier that currently handles the case; it moves up, never down.
    pub Level in "hazards.level, hazard_events.from_level, hazard_events.to_level" {
        Group => "group",
        Village => "village",
        Township => "township",
        /// 交由公安派出所依法查处
        Police => "police",
    }
);

text_enum!(
    /// Set by the village (分级分类).
    pub Difficulty in "hazards.difficulty" {
        Easy => "easy",
        Moderate => "moderate",
        Hard => "hard",
    }
);

text_enum!(
    pub Measure in "hazard_events.params" {
        Warning => "warning",
        Fine => "fine",
        OrderToRectify => "order_to_rectify",
        /// 查封
        SealUp => "seal_up",
        Other => "other",
    }
);

text_enum!(
    /// Why a case was closed: only `rectified` counts as fixed.
    pub Outcome in "hazards.outcome" {
        Rectified => "rectified",
        Unfounded => "unfounded",
        Duplicate => "duplicate",
    }
);

text_enum!(
    /// Every action of SPEC §5 that a person can take on a case.
    pub ActionKind in "hazard_events.action" {
        Verify => "verify",
        RejectReport => "reject_report",
        Escalate => "escalate",
        Classify => "classify",
        SetDeadline => "set_deadline",
        TransferToPolice => "transfer_to_police",
        RecordEnforcement => "record_enforcement",
        ListForSupervision => "list_for_supervision",
        SubmitRectification => "submit_rectification",
        ApproveClosure => "approve_closure",
        RejectClosure => "reject_closure",
        Reopen => "reopen",
        SpotCheck => "spot_check",
        Comment => "comment",
        /// Answer the reporter of a public report (the reporter sees the text).
        ReplyPublic => "reply_public",
    }
);

text_enum!(
    /// What an entry of a case's timeline records: the report, an action of SPEC §5, a photo
    /// added, or the deadline sweep (the system).
    pub EventAction in "hazard_events.action" {
        Report => "report",
        Verify => "verify",
        RejectReport => "reject_report",
        Escalate => "escalate",
        Classify => "classify",
        SetDeadline => "set_deadline",
        TransferToPolice => "transfer_to_police",
        RecordEnforcement => "record_enforcement",
        ListForSupervision => "list_for_supervision",
        SubmitRectification => "submit_rectification",
        ApproveClosure => "approve_closure",
        RejectClosure => "reject_closure",
        Reopen => "reopen",
        SpotCheck => "spot_check",
        Comment => "comment",
        ReplyPublic => "reply_public",
        /// A photo added.
        Attach => "attach",
        /// The deadline sweep moved the case up (or flagged it).
        DeadlineExpired => "deadline_expired",
    }
);

impl From<ActionKind> for EventAction {
    fn from(a: ActionKind) -> EventAction {
        use ActionKind as A;
        match a {
            A::Verify => EventAction::Verify,
            A::RejectReport => EventAction::RejectReport,
            A::Escalate => EventAction::Escalate,
            A::Classify => EventAction::Classify,
            A::SetDeadline => EventAction::SetDeadline,
            A::TransferToPolice => EventAction::TransferToPolice,
            A::RecordEnforcement => EventAction::RecordEnforcement,
            A::ListForSupervision => EventAction::ListForSupervision,
            A::SubmitRectification => EventAction::SubmitRectification,
            A::ApproveClosure => EventAction::ApproveClosure,
            A::RejectClosure => EventAction::RejectClosure,
            A::Reopen => EventAction::Reopen,
            A::SpotCheck => EventAction::SpotCheck,
            A::Comment => EventAction::Comment,
            A::ReplyPublic => EventAction::ReplyPublic,
        }
    }
}

// ---- notifications ----

text_enum!(
    /// Why a notification was sent.
    pub NotificationKind in "notifications.kind" {
        /// A new case in the recipient's area.
        Reported => "reported",
        /// A new major hazard (重大火灾隐患): reaches the township, police and fire department too.
        MajorReported => "major_reported",
        /// A case arrived at the recipient's level.
        Arrived => "arrived",
        /// The recipient's rectification was not accepted.
        ClosureRejected => "closure_rejected",
        /// A major hazard was listed for supervision (挂牌督办).
        Listed => "listed",
        Reopened => "reopened",
        /// A deadline passed and the case moved up.
        Overdue => "overdue",
        /// A deadline passed at a township that has no police station to hand the case to: it
        /// stays overdue where it is (sent to the county and township officials).
        NoPoliceStation => "no_police_station",
        /// A deadline ends within a day.
        DeadlineSoon => "deadline_soon",
        /// A region's responsible supervisor (分片包干) lost the role the post rests on; sent to
        /// the parent tier's officials, who name the next one.
        SupervisorVacant => "supervisor_vacant",
        /// A report from the public (群众举报) waits for the village to verify it.
        PublicReport => "public_report",
        /// A public report has had no first response for 24 hours (sent to the village staff).
        FirstResponseSoon => "first_response_soon",
        /// A public report has had no first response within 48 hours (sent to the township
        /// officials).
        FirstResponseOverdue => "first_response_overdue",
        /// A group has missed its daily patrol (每天防火巡查) for the configured number of days
        /// in a row; sent to its village cadres, once per run of missed days.
        PatrolMissed => "patrol_missed",
        /// A township ran no targeted inspection in a month; sent to the county officials.
        InspectionMissed => "inspection_missed",
    }
);

// ---- the public (群众, SPEC §7) ----

text_enum!(
    /// How a public report reached the deployment.
    pub Channel in "public_reports.channel" {
        /// The public web form or phone app.
        Web => "web",
        /// 96119, the fire hotline, taken down by staff.
        Hotline96119 => "hotline_96119",
        /// 12345, the government service hotline, taken down by staff.
        Hotline12345 => "hotline_12345",
        /// In person at a village or township office.
        WalkIn => "walk_in",
        /// An Open311 GeoReport v2 client.
        Open311 => "open311",
    }
);

text_enum!(
    /// What the reporter of a public report sees of its case.
    pub PublicStatus in "(the public view)" {
        /// Waiting for the village to verify it.
        Received => "received",
        /// Verified: a case the grid works on.
        Verified => "verified",
        /// Not founded (the public reply says why).
        Rejected => "rejected",
        /// Being rectified.
        InProgress => "in_progress",
        /// Closed.
        Resolved => "resolved",
    }
);

text_enum!(
    /// An Open311 GeoReport v2 request's status: `open` until the case is closed or the report
    /// rejected (the public statuses received, verified and in_progress), then `closed`.
    pub Open311Status in "(the Open311 view)" {
        Open => "open",
        Closed => "closed",
    }
);

text_enum!(
    /// The body a webhook receives: firegrid's own JSON, or a WeCom (企业微信) or DingTalk (钉钉)
    /// group robot's markdown message.
    pub WebhookFormat in "webhooks.format" {
        /// `{id, event_id, kind, message, occurred_at, region_id, hazard}`.
        Generic => "generic",
        /// `{"msgtype":"markdown","markdown":{"content":…}}`.
        Wecom => "wecom",
        /// `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`.
        Dingtalk => "dingtalk",
    }
);

text_enum!(
    /// Where one webhook delivery stands.
    pub DeliveryStatus in "webhook_deliveries.status" {
        /// Not yet answered with 2xx; retried with back-off.
        Pending => "pending",
        Delivered => "delivered",
        /// Given up once the retry window closed.
        Failed => "failed",
    }
);

// ---- oversight ----

text_enum!(
    /// A component of the ranking's composite score (年度综合考评), each between 0 and 1.
    pub RankingComponent in "(not stored: ranking output and FIREGRID_RANKING_WEIGHTS)" {
        /// 整改率: the region's `rectification_rate`.
        Rectification => "rectification",
        /// 按期整改: the region's `closed_on_time_share`.
        Timeliness => "timeliness",
        /// 重大隐患未消除: 1 / (1 + `major_open_at_end`).
        MajorOpen => "major_open",
        /// 每天巡查完成率: the region's `patrol_completion`.
        Patrol => "patrol",
        /// 一长三员达标率: the region's `roster_compliance`.
        Roster => "roster",
        /// 群众举报48小时首次答复率: the region's `public_first_response_share`.
        PublicResponse => "public_response",
    }
);

// ---- field work (SPEC §6, issue 13) ----

text_enum!(
    /// The kind of a round: a group's daily patrol (每天防火巡查), a village's check of
    /// communities and units, a township's monthly targeted inspection.
    pub PatrolKind in "patrols.kind, premises.last_check_kind" {
        /// By a grid role of the group, over the group's premises.
        Patrol => "patrol",
        /// By a village role, over premises anywhere in the village.
        VillageCheck => "village_check",
        /// By a township official, with a theme, over premises anywhere in the township.
        TownshipInspection => "township_inspection",
    }
);

text_enum!(
    /// What an offline phone keeps, by kind (`GET /api/v1/sync`).
    pub SyncEntity in "sync_log.entity" {
        Region => "region",
        Premises => "premises",
        /// A role on a group's roster (一长三员).
        Roster => "roster",
        Hazard => "hazard",
        HazardEvent => "hazard_event",
        Notification => "notification",
    }
);

text_enum!(
    /// What a round found at one premises.
    pub CheckResult in "patrol_checks.result" {
        Ok => "ok",
        HazardFound => "hazard_found",
        /// Closed at the time of the visit.
        Closed => "closed",
        /// Could not be reached.
        Unreachable => "unreachable",
    }
);

/// Reads a wire value with the server's own deserializer and checks it serialises back as it
/// came; the error says why not.
pub type RoundTrip = fn(&str) -> Result<(), String>;

/// Every vocabulary by its schema name, with its round trip (the OpenAPI test walks the
/// document with these).
pub fn round_trips() -> Vec<(&'static str, RoundTrip)> {
    fn check<T: serde::de::DeserializeOwned + serde::Serialize>(s: &str) -> Result<(), String> {
        let v: T = serde_json::from_value(serde_json::Value::from(s)).map_err(|e| e.to_string())?;
        let back = serde_json::to_value(&v).map_err(|e| e.to_string())?;
        (back == s)
            .then_some(())
            .ok_or_else(|| format!("{s:?} comes back as {back}"))
    }
    macro_rules! all {
        ($($t:ident),+) => { vec![$((stringify!($t), check::<$t> as RoundTrip)),+] };
    }
    all!(
        RegionLevel,
        OrgKind,
        Role,
        Background,
        PremisesCategory,
        Category,
        Severity,
        Source,
        Status,
        Level,
        Difficulty,
        Measure,
        Outcome,
        ActionKind,
        EventAction,
        NotificationKind,
        Channel,
        PublicStatus,
        Open311Status,
        WebhookFormat,
        DeliveryStatus,
        RankingComponent,
        PatrolKind,
        CheckResult,
        SyncEntity
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_an_event_action_of_the_same_text() {
        for a in ActionKind::ALL {
            assert_eq!(EventAction::from(*a).as_str(), a.as_str());
        }
    }

    #[test]
    fn wire_text_and_parse_agree() {
        for l in RegionLevel::ALL {
            assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
            assert_eq!(RegionLevel::parse(l.as_str()), Some(*l));
        }
        assert_eq!(RegionLevel::parse("Group"), None);
        for (name, ok) in round_trips() {
            assert!(ok("Not a value").is_err(), "{name}");
        }
    }

    #[test]
    fn the_schema_lists_the_wire_strings() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(NotificationKind::schema()).unwrap();
        let values: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(values.contains(&"major_reported"), "{schema}");
        assert_eq!(values.len(), NotificationKind::ALL.len());
        assert_eq!(schema["description"], "Why a notification was sent.");
    }

    #[test]
    fn an_unknown_stored_value_names_column_and_value() {
        let m = unknown("RegionLevel", RegionLevel::COLUMNS, "hamlet");
        assert_eq!(
            m,
            "regions.level holds \"hamlet\", which is not a RegionLevel"
        );
    }
}
