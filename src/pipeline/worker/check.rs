//! `xueji check` on a cluster: each file read where it lies ([`read`]), the records
//! normalized and checked part by part ([`prepare`]), the exact duplicates among the records
//! of one number ([`duplicates`]), and the problems as `xueji check` reports them
//! ([`problems`]). Problems travel with their record as JSON text until they are reported.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use super::{indices, require};
use crate::check::{duplicates, CheckOptions};
use crate::columns::{Ints, Text};
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions};
use crate::problems::{Code, Problem};
use crate::schema::FIELDS;

/// Files (`file`: its place in [`ingest::files_to_read`]'s order, `path`) → their records as
/// `xueji check` reads them: `file`, `row` (the record's place among its file's), `record_id`,
/// `source_file`, `source_row`, every canonical field of [`FIELDS`] (empty where the file has
/// no column for it; other columns are left out), `columns` (bit i set: the file has a column
/// for `FIELDS[i]`) and `problems` (what reading found).
pub fn read(files: &DataFrame, options: &IngestOptions) -> Result<DataFrame> {
    require(files, ["file", "path"])?;
    let mut files = files.clone();
    files.rechunk_mut_par();
    let (numbers, paths) = (indices(&files, "file")?, Text::of(&files, "path")?);
    let mut read = records_read(0, None, options)?;
    for (k, &file) in numbers.iter().enumerate() {
        let path = paths.get(k).ok_or_else(|| Error::Worker("a file without a path".into()))?;
        let table = ingest::read_file(Path::new(path), options)?;
        read.vstack_mut_owned(records_read(file, Some(&table), options)?)?;
    }
    Ok(read)
}

/// The rows [`read`] gives for one file's `table` (none without one).
fn records_read(file: u32, table: Option<&ingest::table::Table>, options: &IngestOptions) -> Result<DataFrame> {
    let n = table.map_or(0, |t| t.df.height());
    let column = |name: &str| -> Result<Column> {
        Ok(match table.map(|t| t.df.column(name)) {
            Some(Ok(c)) => c.cast(&DataType::String)?,
            _ => Column::full_null(name.into(), n, &DataType::String),
        })
    };
    let mut present = 0i64;
    let mut columns = vec![
        Column::new("file".into(), vec![file as i32; n]),
        Column::new("row".into(), (0..n as i64).collect::<Vec<_>>()),
        match table {
            Some(t) => ingest::record_ids(&t.df, options.id_column.as_deref())?,
            None => Column::full_null("record_id".into(), 0, &DataType::String),
        },
        column("source_file")?,
        match table {
            Some(t) => t.df.column("source_row")?.cast(&DataType::Int32)?,
            None => Column::full_null("source_row".into(), 0, &DataType::Int32),
        },
    ];
    for (i, field) in FIELDS.iter().enumerate() {
        if table.is_some_and(|t| t.df.column(field.name).is_ok()) {
            present |= 1 << i;
        }
        columns.push(column(field.name)?);
    }
    columns.push(Column::new("columns".into(), vec![present; n]));
    columns.push(problem_lists("problems", table.map_or(&[], |t| &t.problems), n));
    Ok(DataFrame::new(n, columns)?)
}

/// Records as [`read`] gives them, with `record` (their index in the whole population, in
/// `xueji check`'s order) → normalized and checked as `xueji check` does record by record:
/// `record_id`, `source_file`, `source_row`, the fields in `fields` (those some file of the
/// population has a column for: a field no file has is no column at all, as on one machine),
/// the normalized columns, `id_valid`, `locality_city`, `locality_county`, `record`,
/// `id_digits_lost` (the number is not the record's: see [`duplicates`]), `duplicates_key`
/// (what exact duplicates group it by: [`duplicates::group_key`], a cluster's partition key for
/// [`duplicates`]) and `problems`.
pub fn prepare(read: &DataFrame, fields: &[String], options: &CheckOptions) -> Result<DataFrame> {
    require(read, ["record", "record_id", "source_file", "source_row", "problems"])?;
    let mut read = read.clone();
    read.rechunk_mut_par();
    let n = read.height();
    let mut columns = vec![
        read.column("record_id")?.cast(&DataType::String)?,
        read.column("source_file")?.cast(&DataType::String)?,
        read.column("source_row")?.cast(&DataType::UInt32)?,
    ];
    for field in FIELDS.iter().filter(|f| fields.iter().any(|name| name == f.name)) {
        require(&read, [field.name])?;
        columns.push(read.column(field.name)?.cast(&DataType::String)?);
    }
    let mut records = DataFrame::new(n, columns)?;
    let mut problems = problems_of(&read, "problems")?;
    let lost = crate::check::run::prepare(&mut records, &mut problems, options)?;
    problems.sort_by_key(|p| (p.record, p.code));
    records.with_column(read.column("record")?.cast(&DataType::Int64)?)?;
    records.with_column(Column::new("id_digits_lost".into(), (0..n).map(|i| lost.contains(&i)).collect::<Vec<_>>()))?;
    let key = {
        let (ids, names, sexes) =
            (Text::of(&records, "id_norm")?, Text::of(&records, "name_norm")?, Text::of(&records, "sex_norm")?);
        let births = Ints::of(&records, "birth_date_norm")?;
        let keys = (0..n).map(|i| duplicates::group_key(ids.get(i), names.get(i), sexes.get(i), births.get(i)));
        StringChunked::from_iter_options("duplicates_key".into(), keys).into_column()
    };
    records.with_column(key)?;
    records.with_column(problem_lists("problems", &problems, n))?;
    Ok(records)
}

/// Prepared records, every record of each number (and, without one, of each name, sex and
/// birth date) in one part: `record`, `record_id`, `id_norm`, `id_type_norm`, `name_norm`,
/// `name_pinyin`, `sex_norm`, `birth_date_norm`, `guardian_phone_norm`, `guardian_name` (when
/// some file has it), `id_digits_lost` → `record`, `duplicates`: the exact-duplicate problems
/// of each record that has any.
pub fn duplicates(records: &DataFrame) -> Result<DataFrame> {
    let needed = ["record", "record_id", "id_norm", "id_type_norm", "name_norm", "name_pinyin"];
    require(records, needed.iter().chain(&["sex_norm", "birth_date_norm", "guardian_phone_norm", "id_digits_lost"]))?;
    let mut records = records.sort(["record"], SortMultipleOptions::default())?;
    records.rechunk_mut_par();
    let lost: HashSet<usize> = records
        .column("id_digits_lost")?
        .bool()?
        .iter()
        .enumerate()
        .filter_map(|(i, lost)| (lost == Some(true)).then_some(i))
        .collect();
    let problems = duplicates::exact_duplicates(&records, &lost)?;
    let index = indices(&records, "record")?;
    let with: Vec<usize> =
        problems.iter().map(|p| p.record).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let lists = problem_lists("duplicates", &problems, records.height());
    let lists = lists.str()?;
    Ok(DataFrame::new(
        with.len(),
        vec![
            Column::new("record".into(), with.iter().map(|&i| i64::from(index[i])).collect::<Vec<_>>()),
            StringChunked::from_iter_options("duplicates".into(), with.iter().map(|&i| lists.get(i))).into_column(),
        ],
    )?)
}

/// Prepared records with `duplicates` ([`duplicates`]'s, empty for most) → their problems as
/// `problems.parquet` of `xueji check` has them, with `record` and `order` (the problem's
/// place among its record's): ordered by both, they are that file's rows.
pub fn problems(records: &DataFrame) -> Result<DataFrame> {
    require(records, ["record", "record_id", "source_file", "source_row", "problems", "duplicates"])?;
    let mut records = records.clone();
    records.rechunk_mut_par();
    records.with_column(records.column("source_row")?.cast(&DataType::UInt32)?)?;
    let mut problems = problems_of(&records, "problems")?;
    problems.extend(problems_of(&records, "duplicates")?);
    problems.sort_by_key(|p| (p.record, p.code));
    let mut frame = crate::report::problems_frame(&records, &problems)?;
    let index = indices(&records, "record")?;
    let mut order = Vec::with_capacity(problems.len());
    for (k, p) in problems.iter().enumerate() {
        let first = k == 0 || problems[k - 1].record != p.record;
        order.push(if first { 0 } else { order[k - 1] + 1 });
    }
    frame.with_column(Column::new(
        "record".into(),
        problems.iter().map(|p| i64::from(index[p.record])).collect::<Vec<_>>(),
    ))?;
    frame.with_column(Column::new("order".into(), order))?;
    Ok(frame)
}

/// Each row's problems (of `problems`, whose `record` is the row) as a JSON array of `code`,
/// `raw`, `message`; empty for a row without.
fn problem_lists(name: &str, problems: &[Problem], rows: usize) -> Column {
    let mut lists: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
    for p in problems {
        let entry = serde_json::json!({ "code": p.code.as_str(), "raw": p.raw, "message": p.message });
        lists.entry(p.record).or_default().push(entry);
    }
    let text = (0..rows).map(|i| lists.get(&i).map(|list| serde_json::to_string(list).unwrap_or_default()));
    StringChunked::from_iter_options(name.into(), text).into_column()
}

/// The problems in a column of [`problem_lists`], each of the row it is on.
fn problems_of(table: &DataFrame, name: &str) -> Result<Vec<Problem>> {
    let bad = |why: String| Error::Worker(format!("column {name}: {why}"));
    table.column(name).map_err(|_| bad("missing".into()))?;
    let lists = Text::of(table, name)?;
    let mut problems = Vec::new();
    for record in 0..table.height() {
        let Some(text) = lists.get(record) else { continue };
        let list: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        for entry in list {
            let code =
                entry["code"].as_str().and_then(Code::parse).ok_or_else(|| bad(format!("no code in {entry}")))?;
            let message = entry["message"].as_str().unwrap_or_default().to_owned();
            problems.push(Problem { record, code, raw: entry["raw"].as_str().map(str::to_owned), message });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_lists_read_back_as_written() {
        let problems = vec![
            Problem { record: 1, code: Code::NameMissing, raw: None, message: "姓名为空".into() },
            Problem { record: 1, code: Code::IdChecksum, raw: Some("\"1\",=2".into()), message: "x\ny".into() },
            Problem { record: 3, code: Code::SexMissing, raw: None, message: String::new() },
        ];
        let table = DataFrame::new(4, vec![problem_lists("problems", &problems, 4)]).unwrap();
        assert_eq!(table.column("problems").unwrap().null_count(), 2);
        assert_eq!(problems_of(&table, "problems").unwrap(), problems);
    }
}
