//! Parquet and Arrow IPC files: typed columns, so every column is turned into text here, and
//! floating-point numbers in digit-string fields are checked for lost digits.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::ingest::table::{float_text, name_columns, Layout, Table};
use crate::ingest::IngestOptions;
use crate::problems::{Code, Problem};
use crate::schema;

pub fn read(path: &Path, options: &IngestOptions, ipc: bool) -> Result<Table> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // Polars' readers trust a file's metadata and can panic on a damaged one: that is an error
    // about this file, not a crash.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if ipc {
            IpcReader::new(file).finish()
        } else {
            ParquetReader::new(file).finish()
        }
    }))
    .map_err(|_| Error::input(path, "cannot read: the file is damaged (its metadata does not match its data)"))?;
    let df = read.map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
    let headers: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    let (names, fields) = name_columns(path, &headers, "columns", &options.headers)?;

    let height = df.height();
    let mut problems = Vec::new();
    let mut columns: Vec<Column> = Vec::with_capacity(names.len() + 2);
    columns.push(Column::new_scalar(
        "source_file".into(),
        Scalar::new(DataType::String, AnyValue::StringOwned(path.display().to_string().into())),
        height,
    ));
    // Row numbers as a person counts them in the file: the first record is row 1.
    columns.push(Column::new("source_row".into(), (1..=height as u32).collect::<Vec<u32>>()));
    for ((column, name), field) in df.columns().iter().zip(&names).zip(&fields) {
        let text = match column.dtype() {
            DataType::String => column.clone(),
            DataType::Float32 | DataType::Float64 => {
                let values = column.cast(&DataType::Float64).map_err(|e| Error::input(path, e.to_string()))?;
                // Only an ID number is long enough (18 digits) to lose digits in a double.
                let digit_field = field.filter(|f| *f == "id_number");
                let mut texts = StringChunkedBuilder::new(name.as_str().into(), height);
                for (row, value) in values.f64()?.iter().enumerate() {
                    let Some(v) = value else {
                        texts.append_null();
                        continue;
                    };
                    let text = float_text(v);
                    if let Some(field) = digit_field.filter(|_| v.abs() >= 1e15) {
                        let message = crate::say!(
                            "第{}行：{}存为浮点数，只保留15-17位有效数字；请存为文本",
                            "row {}: {} is a floating-point number, which keeps only 15-17 digits; store it as text",
                            row + 1,
                            schema::label(field)
                        );
                        problems.push(Problem::new(row, Code::CellNumberPrecisionLost, Some(&text), message));
                    }
                    texts.append_value(&text);
                }
                texts.finish().into_column()
            }
            dtype if dtype.is_nested() || matches!(dtype, DataType::Binary | DataType::BinaryOffset) => {
                return Err(Error::input(
                    path,
                    format!("column {name} is {dtype}: xueji reads columns of text, numbers, dates and true/false"),
                ))
            }
            dtype => column
                .cast(&DataType::String)
                .map_err(|e| Error::input(path, format!("column {name} ({dtype}) cannot be read as text: {e}")))?,
        };
        columns.push(blank_as_null(&text)?.with_name(name.as_str().into()));
    }
    let layout = Layout { sheet: None, header_row: None, columns: headers.into_iter().zip(fields).collect() };
    let df = DataFrame::new(height, columns)?;
    // A row with no value at all is skipped and counted, as in a sheet.
    let mut filled = BooleanChunked::full("filled".into(), false, height);
    for column in &df.columns()[2..] {
        filled = &filled | &column.is_not_null();
    }
    let blank_rows = filled.iter().filter(|f| *f != Some(true)).count();
    if blank_rows == 0 {
        return Ok(Table::single(df, problems, 0, layout));
    }
    let kept: Vec<usize> = filled.iter().enumerate().filter(|(_, f)| *f == Some(true)).map(|(i, _)| i).collect();
    let mut new_index = vec![usize::MAX; height];
    for (new, &old) in kept.iter().enumerate() {
        new_index[old] = new;
    }
    let problems = problems
        .into_iter()
        .filter(|p| new_index[p.record] != usize::MAX)
        .map(|p| Problem { record: new_index[p.record], ..p })
        .collect();
    Ok(Table::single(df.filter(&filled)?, problems, blank_rows, layout))
}

/// Empty and whitespace-only text is no value, as an empty cell of a sheet is none: the same
/// records give the same problems in every format.
fn blank_as_null(text: &Column) -> Result<Column> {
    let text = text.str()?;
    if !text.iter().any(|v| v.is_some_and(|v| v.trim().is_empty())) {
        return Ok(text.clone().into_column());
    }
    Ok(text.iter().map(|v| v.filter(|v| !v.trim().is_empty())).collect::<StringChunked>().into_column())
}
