//! Oversight (SPEC §8, 188号 §(一) §(十五)): the figures of a region over a period (统计), the
//! ranking of its children (年度综合考评排名), and the supervision board (督办看板). Figures are
//! counted from the case rows at request time, so they always agree with the case list.

pub mod board;
pub mod figures;
pub mod period;
pub mod ranking;
pub mod routes;
pub mod store;
