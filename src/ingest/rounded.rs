//! ID numbers a spreadsheet rounded before the file reached xueji. Excel keeps 15 significant
//! digits: an 18-digit number typed into a General cell is stored as a number, and a CSV saved
//! from it holds what the cell displays, `2.11381E+17` or `211381200908232000`. Such a value is
//! no one's number: as text it would make strangers share a number (ID_CONFLICT) and send them
//! to police under it, or tell a school to fix a check digit that Excel erased.
//!
//! A workbook's numeric cells are caught where they are read (`excel`, `columnar`); this finds the
//! same damage in text, from any format, by the pattern a file shows.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::Result;
use crate::gb11643::check_char;
use crate::ingest::Table;
use crate::problems::{Code, Problem};

/// How a value of the ID number column looks after a spreadsheet held it as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// `2.11381E+17`: scientific notation, never an ID number.
    Scientific,
    /// 18 digits ending in `000`, with a check digit that fails: rounded, where the file shows
    /// the pattern; a typo otherwise.
    ZeroedFailing,
    /// 18 digits ending in `000` that happen to pass the check (one in eleven rounded numbers
    /// does; about one real number in eleven thousand ends so).
    ZeroedPassing,
}

/// How `value` (a cell of the ID number column) looks, if a spreadsheet may have rounded it.
pub fn rounding(value: &str) -> Option<Rounding> {
    let value = value.trim();
    let b = value.as_bytes();
    if b.len() == 18 && b.iter().all(u8::is_ascii_digit) && value.ends_with("000") {
        return Some(if check_char(b) == Some(b[17]) { Rounding::ZeroedPassing } else { Rounding::ZeroedFailing });
    }
    let (mantissa, exponent) = value.split_once(['E', 'e'])?;
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (lead, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let scientific = digits(lead) && (fraction.is_empty() || digits(fraction)) && digits(exponent);
    // An exponent under 10 is a short number (a class or a phone extension), not an ID.
    (scientific && exponent.parse::<u32>().is_ok_and(|e| e >= 10)).then_some(Rounding::Scientific)
}

/// A value in E+ form with too few digits to tell one child from another: `2.11381E+17`, what a
/// General cell shows, is the region and no more, and a school's whole column reads so.
pub fn tells_no_one_apart(value: &str) -> bool {
    let significant = value.trim().split(['E', 'e']).next().unwrap_or("").bytes().filter(u8::is_ascii_digit).count();
    rounding(value) == Some(Rounding::Scientific) && significant < 12
}

/// The significant digits of an 18-digit number that went through a spreadsheet as a number and
/// came back as text: `2.11221200903152E+17`, or `211221200903152000` (a spreadsheet keeps 15
/// significant digits and writes zeros for the rest). At least 12 digits, or `None`. Only
/// meaningful for a number that fails verification: a valid number may end in `000`.
pub fn spreadsheet_digits(id: &str) -> Option<Cow<'_, str>> {
    let b = id.as_bytes();
    if b.len() == 18 && b.iter().all(u8::is_ascii_digit) && id.ends_with("000") {
        return Some(Cow::Borrowed(&id[..15]));
    }
    let (mantissa, exponent) = id.split_once(['E', 'e'])?;
    if !matches!(exponent, "+17" | "17") {
        return None;
    }
    let (lead, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{lead}{fraction}");
    let ok = lead.len() == 1
        && lead != "0"
        && (12..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(Cow::Owned(digits))
}

/// Whether the 18-digit `full` number, kept to `digits.len()` significant digits by a
/// spreadsheet (rounded, or cut), reads `digits`.
pub fn spreadsheet_keeps(full: &str, digits: &str) -> bool {
    let k = digits.len();
    let b = full.as_bytes();
    if b.len() != 18 || k >= 18 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if &full[..k] == digits {
        return true;
    }
    let Ok(head) = full[..k].parse::<u64>() else { return false };
    let rounded = head + u64::from(b[k] >= b'5');
    format!("{rounded:0k$}") == digits
}

/// Adds CELL_NUMBER_PRECISION_LOST to every record of `table` whose ID number a spreadsheet
/// rounded: any value in scientific notation, and, where the file holds a scientific value or at
/// least two zero-ended numbers that fail their check, every 18-digit number ending in `000`
/// (but one that passes its check and that the record's 全国学籍号 carries digit for digit).
pub fn mark_rounded_numbers(table: &mut Table) -> Result<()> {
    let Ok(column) = table.df.column("id_number") else { return Ok(()) };
    let numbers = column.str()?;
    let rows = table.df.column("source_row")?.u32()?;
    // A 全国学籍号 is text (`G` + the number), untouched by a spreadsheet: the very digits say a
    // zero-ended number is whole; another number that rounds to them says it was rounded.
    let student_numbers = table.df.column("student_no").ok().map(|c| c.str()).transpose()?;
    let carried = |i: usize| {
        student_numbers
            .and_then(|s| s.get(i))
            .and_then(|no| no.trim().strip_prefix(['G', 'g']))
            .filter(|n| n.len() == 18)
    };
    let already: HashSet<usize> =
        table.problems.iter().filter(|p| p.code == Code::CellNumberPrecisionLost).map(|p| p.record).collect();
    let found: Vec<(usize, Rounding, &str)> = numbers
        .iter()
        .enumerate()
        .filter(|(i, _)| !already.contains(i))
        .filter_map(|(i, value)| Some((i, rounding(value?)?, value?)))
        .filter(|&(i, kind, value)| !(kind == Rounding::ZeroedPassing && carried(i) == Some(value.trim())))
        .collect();
    let scientific = found.iter().any(|(_, r, _)| *r == Rounding::Scientific);
    let zeroed_failing = found.iter().filter(|(_, r, _)| *r == Rounding::ZeroedFailing).count();
    let pattern = scientific || zeroed_failing >= 2;
    let mut marked = Vec::new();
    for (i, kind, raw) in found {
        let shown_by_student_number = carried(i).is_some_and(|full| {
            full != raw.trim() && spreadsheet_digits(raw).is_some_and(|kept| spreadsheet_keeps(full, &kept))
        });
        if kind != Rounding::Scientific && !pattern && !shown_by_student_number {
            continue;
        }
        let row = rows.get(i).unwrap_or(0);
        let message = match kind {
            Rounding::Scientific => crate::say!(
                "第{row}行：身份证件号“{raw}”是Excel以科学计数法写出的数值，只剩15位有效数字；请以文本格式重新录入",
                "row {row}: {raw:?} is a number Excel wrote in scientific notation, which keeps 15 digits at most; re-enter it as text"
            ),
            _ => crate::say!(
                "第{row}行：身份证件号“{raw}”末三位为0，本文件的证件号列被Excel按数值保存过，只保留15位有效数字；请以文本格式重新录入",
                "row {row}: {raw:?} ends in 000: this file's ID column went through Excel as numbers, which keep 15 digits; re-enter it as text"
            ),
        };
        marked.push(Problem::new(i, Code::CellNumberPrecisionLost, Some(raw), message));
    }
    table.problems.extend(marked);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_damage_keeps_the_significant_digits() {
        assert_eq!(spreadsheet_digits("211221200903152000").as_deref(), Some("211221200903152"));
        assert_eq!(spreadsheet_digits("2.11221200903152E+17").as_deref(), Some("211221200903152"));
        assert_eq!(spreadsheet_digits("2.1122120090315E+17").as_deref(), Some("21122120090315"));
        assert_eq!(spreadsheet_digits("2.11221E+17"), None, "six digits say too little");
        assert_eq!(spreadsheet_digits("2.11221200903152E+16"), None, "not 18 digits long");
        assert_eq!(spreadsheet_digits("21122120090315201X"), None);
        assert_eq!(spreadsheet_digits("211221200903152"), None);
        // 211221200903152 5xx rounds up; …1524 rounds down; both cut to …152.
        assert!(spreadsheet_keeps("211221200903152514", "211221200903153"));
        assert!(spreadsheet_keeps("211221200903152514", "211221200903152"));
        assert!(spreadsheet_keeps("211221200903152414", "211221200903152"));
        assert!(!spreadsheet_keeps("211221200903152414", "211221200903153"));
        assert!(!spreadsheet_keeps("211221200903162414", "211221200903152"));
        assert!(!spreadsheet_keeps("21122120090315241X", "211221200903152"), "an X number is text in a sheet");
    }

    #[test]
    fn what_a_spreadsheet_leaves_of_a_number() {
        assert_eq!(rounding("2.11381E+17"), Some(Rounding::Scientific));
        assert_eq!(rounding(" 2.11221200903152E+17 "), Some(Rounding::Scientific));
        assert_eq!(rounding("2E17"), Some(Rounding::Scientific));
        assert_eq!(rounding("1.5E+3"), None, "too short for an ID number");
        assert_eq!(rounding("E+17"), None);
        assert_eq!(rounding("2.1.1E+17"), None);
        assert_eq!(rounding("211104201010125000"), Some(Rounding::ZeroedFailing));
        let passing = (1..=28)
            .map(|day| format!("2111042010100{day:02}00"))
            .map(|body| format!("{body}{}", char::from(check_char(format!("{body}0").as_bytes()).unwrap())))
            .find(|id| id.ends_with("000"))
            .expect("some day gives check character 0");
        assert_eq!(rounding(&passing), Some(Rounding::ZeroedPassing), "{passing}");
        assert_eq!(rounding("11010519491231002X"), None);
        assert_eq!(rounding("21110420101012500E"), None);
        assert_eq!(rounding("2111042010101250001"), None, "19 digits");
        assert_eq!(rounding("不详"), None);
        assert!(tells_no_one_apart("2.11381E+17"));
        assert!(!tells_no_one_apart("2.11221200903152E+17"), "fifteen digits tell a lot");
        assert!(!tells_no_one_apart("211381200908232000"));
    }

    fn table(numbers: &[&str], student_numbers: &[&str]) -> Table {
        use polars::prelude::*;
        let df = df!(
            "source_row" => (2..2 + numbers.len() as u32).collect::<Vec<_>>(),
            "id_number" => numbers,
            "student_no" => student_numbers,
        )
        .unwrap();
        Table::single(df, Vec::new(), 0, crate::ingest::table::Layout::default())
    }

    fn marked(table: &mut Table) -> Vec<usize> {
        mark_rounded_numbers(table).unwrap();
        table.problems.iter().map(|p| p.record).collect()
    }

    #[test]
    fn a_file_shows_the_pattern_or_not() {
        let passing = "211104201010013000";
        assert_eq!(rounding(passing), Some(Rounding::ZeroedPassing), "the vector below passes");
        // One zero-ended number failing its check alone: a typo, left to ID_CHECKSUM.
        assert_eq!(marked(&mut table(&["211104201010125000", "11010519491231002X"], &["", ""])), Vec::<usize>::new());
        // Two, or one in E+ form: the column went through Excel.
        assert_eq!(marked(&mut table(&["211104201010125000", "211104201105052000"], &["", ""])), [0, 1]);
        assert_eq!(marked(&mut table(&["2.11381E+17", "211104201010125000"], &["", ""])), [0, 1]);
        // A passing zero-ended number in such a file is rounded too, unless its G-number
        // carries the very digits.
        let numbers = ["2.11381E+17", passing, passing];
        let g = format!("G{passing}");
        assert_eq!(marked(&mut table(&numbers, &["", "", &g])), [0, 1]);
        // Alone in a clean file, a zero-ended number is rounded where its G-number rounds to it.
        let whole = "211104201010125123";
        let numbers = ["211104201010125000", "11010519491231002X"];
        assert_eq!(marked(&mut table(&numbers, &[&format!("G{whole}"), ""])), [0]);
        assert_eq!(marked(&mut table(&numbers, &["G110105194912310021", ""])), Vec::<usize>::new());
    }
}
