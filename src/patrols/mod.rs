//! Field work (SPEC §6, 188号 §(五)): every resident group patrols every day (每天开展防火巡查
//! 检查), villages check communities and units (村级检查), each township runs one targeted
//! inspection a month (每月组织开展一次有针对性的巡查检查). One record, `patrols`, holds all three
//! kinds of round: who, when, which premises were checked with what result, and the cases found.
//!
//! `model` is the wire, `store` the rows (a round and its cases in one transaction), `routes`
//! the HTTP; `compliance` counts who missed a day or a month, and `alerts` tells the village
//! cadres and county officials about it, once.

pub mod alerts;
pub mod compliance;
pub mod model;
pub mod routes;
pub mod store;
