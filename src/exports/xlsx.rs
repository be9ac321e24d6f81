//! `hazards.xlsx`: a real workbook (rust_xlsxwriter) with a bold, frozen Chinese header row,
//! column widths and an autofilter. Text goes in as string cells, which Excel never evaluates,
//! so it is written as it is (the CSV's formula neutralisation is not needed here). A workbook is a zip finished only at the end, so it cannot
//! be streamed like the CSV: rows go to a temporary file as they are read (the crate's
//! constant-memory mode), and the finished file is at most `MAX_ROWS` cases; beyond that the
//! export is refused (422) in favour of `hazards.csv`.

use rust_xlsxwriter::{Format, Workbook};

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::exports::{row_cells, CasePages, Cell, COLUMNS};

pub const MAX_ROWS: usize = 100_000;

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal("writing the workbook").caused_by(e)
}

/// The whole workbook, read page by page on this (blocking) connection.
pub fn workbook(conn: &mut DbConn, pages: &mut CasePages, tz: chrono_tz::Tz) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let sheet = book
        .add_worksheet_with_constant_memory()
        .map_err(xlsx_error)?;
    sheet.set_name("隐患清单").map_err(xlsx_error)?;
    let bold = Format::new().set_bold();
    for (col, (header, width)) in COLUMNS.iter().enumerate() {
        let col = col as u16;
        sheet.set_column_width(col, *width).map_err(xlsx_error)?;
        sheet
            .write_string_with_format(0, col, *header, &bold)
            .map_err(xlsx_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
    let mut row: u32 = 0;
    loop {
        let rows = pages.next_on(conn)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            row += 1;
            if row as usize > MAX_ROWS {
                return Err(AppError::field(
                    "format",
                    format!("more than {MAX_ROWS} cases match: narrow the filters or export hazards.csv"),
                ));
            }
            for (col, cell) in row_cells(r, &pages.names, tz, pages.now)
                .into_iter()
                .enumerate()
            {
                let col = col as u16;
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(row, col, s).map_err(xlsx_error)?;
                    }
                    Cell::Number(x) => {
                        sheet.write_number(row, col, x).map_err(xlsx_error)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
    }
    sheet
        .autofilter(0, 0, row, COLUMNS.len() as u16 - 1)
        .map_err(xlsx_error)?;
    book.save_to_buffer().map_err(xlsx_error)
}
