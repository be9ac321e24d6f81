//! Chinese labels of the vocabularies, for documents people read (exports, bulletins). The wire
//! keeps the snake_case values; these are only for display.

use crate::hazards::model::{Category, Level, Outcome, Severity, Source, Status};
use crate::vocab::PremisesCategory;

pub fn category(c: Category) -> &'static str {
    match c {
        Category::Electrical => "电气线路",
        Category::BlockedEscapeRoute => "堵塞疏散通道/消防车通道",
        Category::FlammableStorage => "易燃物品堆放",
        Category::EquipmentMissing => "消防器材缺失或过期",
        Category::OpenFlame => "违规用火",
        Category::MixedUse => "三合一场所",
        Category::IllegalFuel => "非法储存燃料",
        Category::Other => "其他",
    }
}

pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::General => "一般",
        Severity::Major => "重大",
    }
}

pub fn source(s: Source) -> &'static str {
    match s {
        Source::Patrol => "巡查",
        Source::Inspection => "检查",
        Source::Public => "群众举报",
        Source::Other => "其他",
    }
}

pub fn status(s: Status) -> &'static str {
    match s {
        Status::PendingVerification => "待核实",
        Status::Open => "整改中",
        Status::AwaitingReview => "待复核",
        Status::Closed => "已结案",
        Status::Rejected => "不予立案",
    }
}

pub fn level(l: Level) -> &'static str {
    match l {
        Level::Group => "组",
        Level::Village => "村",
        Level::Township => "乡镇",
        Level::Police => "派出所",
    }
}

pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Rectified => "已整改",
        Outcome::Unfounded => "不属实",
        Outcome::Duplicate => "重复",
    }
}

pub fn premises_category(c: PremisesCategory) -> &'static str {
    match c {
        PremisesCategory::Shop => "商店",
        PremisesCategory::Restaurant => "餐饮",
        PremisesCategory::Hotel => "旅馆",
        PremisesCategory::Entertainment => "娱乐场所",
        PremisesCategory::InternetCafe => "网吧",
        PremisesCategory::BeautyBath => "美容洗浴",
        PremisesCategory::Workshop => "小作坊",
        PremisesCategory::Clinic => "诊所",
        PremisesCategory::School => "学校/幼儿园",
        PremisesCategory::Residential => "居民住宅",
        PremisesCategory::SocialUnit => "社会单位",
        PremisesCategory::Other => "其他",
    }
}
