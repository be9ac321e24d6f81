//! `hazards.csv`: UTF-8 with a byte-order mark (so Excel reads the Chinese right), Chinese
//! headers, one case per line, text cells neutralised against formula injection; streamed a
//! page at a time.

use actix_web::web::Bytes;
use chrono::NaiveDateTime;

use crate::error::{AppError, AppResult};
use crate::exports::{neutralise, row_cells, Cell, Names, COLUMNS};
use crate::hazards::store::HazardRow;

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The BOM and the header line.
pub fn head() -> AppResult<Bytes> {
    let mut out = BOM.to_vec();
    out.extend(lines(std::iter::once(
        COLUMNS
            .iter()
            .map(|(h, _)| h.to_string())
            .collect::<Vec<_>>(),
    ))?);
    Ok(Bytes::from(out))
}

/// The lines of a page of cases.
pub fn page(
    rows: &[HazardRow],
    names: &Names,
    tz: chrono_tz::Tz,
    now: NaiveDateTime,
) -> AppResult<Bytes> {
    Ok(Bytes::from(lines(rows.iter().map(|r| {
        row_cells(r, names, tz, now)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => neutralise(&s).into_owned(),
                Cell::Number(x) => x.to_string(),
                Cell::Empty => String::new(),
            })
            .collect::<Vec<_>>()
    }))?))
}

fn lines(records: impl Iterator<Item = Vec<String>>) -> AppResult<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for rec in records {
        w.write_record(&rec)
            .map_err(|e| AppError::internal("writing CSV").caused_by(e))?;
    }
    w.into_inner()
        .map_err(|e| AppError::internal("writing CSV").caused_by(e.to_string()))
}
