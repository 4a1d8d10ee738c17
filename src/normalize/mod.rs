//! Normalize: new columns with the forms records are checked and compared on; the original
//! columns stay as they were read. What normalization had to clean or could not read is reported
//! as problems here; cross-field verdicts are `check`'s.

pub mod codes;
pub mod date;
pub mod id_number;
pub mod name;

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::error::Result;
use crate::problems::{Code, Problem};

/// Rows handed to one task: large enough to amortise scheduling, small enough to balance 2+ cores.
const CHUNK_ROWS: usize = 1 << 15;

/// Readings of heteronym names kept in `name_pinyin_alt`.
const PINYIN_VARIANTS: usize = 8;

/// Findings of one normalizer on one value: code and message.
type Findings = Vec<(Code, String)>;

/// The normalized columns [`normalize`] adds, in order.
pub const NORMALIZED_COLUMNS: [&str; 11] = [
    "name_norm",
    "name_pinyin",
    "name_pinyin_alt",
    "sex_norm",
    "birth_date_norm",
    "id_type_norm",
    "id_norm",
    "ethnicity_norm",
    "school_code_norm",
    "grade_norm",
    "class_norm",
];

/// Adds the normalized columns to `df` and returns the problems normalization found.
pub fn normalize(df: &mut DataFrame) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();

    let (names, found) = map_column(df, "name", |raw, findings| {
        let (norm, flags) = name::normalize_name(raw);
        let pairs = [
            (flags.whitespace, Code::NameWhitespace),
            (flags.dot_variant, Code::NameDotVariant),
            (flags.traditional, Code::NameTraditional),
            (flags.latin, Code::NameLatin),
            (flags.digit, Code::NameDigit),
            (flags.symbol, Code::NameSymbol),
        ];
        for (flag, code) in pairs {
            if flag {
                findings.push((code, format!("{raw:?} → {norm:?}")));
            }
        }
        let mut variants = name::name_pinyin_variants(&norm, PINYIN_VARIANTS + 1);
        let pinyin = if variants.is_empty() { String::new() } else { variants.remove(0) };
        let alt = (!variants.is_empty()).then(|| variants.join("|"));
        (!norm.is_empty()).then_some((norm, pinyin, alt))
    })?;
    problems.extend(found);
    let (mut norm, mut pinyin, mut alt) =
        (Vec::with_capacity(names.len()), Vec::with_capacity(names.len()), Vec::with_capacity(names.len()));
    for entry in names {
        let (n, p, a) = entry.map_or((None, None, None), |(n, p, a)| (Some(n), Some(p), a));
        norm.push(n);
        pinyin.push(p);
        alt.push(a);
    }
    add_text(df, "name_norm", norm)?;
    add_text(df, "name_pinyin", pinyin)?;
    add_text(df, "name_pinyin_alt", alt)?;

    let (sexes, found) = map_column(df, "sex", |raw, findings| {
        let sex = codes::normalize_sex(raw);
        if sex.is_none() {
            findings.push((Code::SexInvalid, format!("{raw:?} is not 男/女, 1/2 or M/F")));
        }
        sex.map(str::to_owned)
    })?;
    problems.extend(found);
    add_text(df, "sex_norm", sexes)?;

    let (dates, found) = map_column(df, "birth_date", |raw, findings| {
        let parsed = date::parse_date(raw);
        if parsed.is_none() {
            findings.push((Code::BirthDateInvalid, format!("{raw:?} is not a real date in a known format")));
        }
        parsed.map(date::Date::to_epoch_days)
    })?;
    problems.extend(found);
    let dates = Int32Chunked::from_iter_options("birth_date_norm".into(), dates.into_iter()).into_date();
    df.with_column(dates.into_column())?;

    let (types, found) = map_column(df, "id_type", |raw, findings| {
        let code = codes::normalize_document_type(raw);
        if code.is_none() {
            findings.push((
                Code::DocumentTypeInvalid,
                format!("{raw:?} is not a 身份证件类型 code (1, 6, 7, 8, 9, A, B, C, Z)"),
            ));
        }
        code.map(str::to_owned)
    })?;
    problems.extend(found);
    add_text(df, "id_type_norm", types)?;

    let (ids, found) = map_column(df, "id_number", |raw, findings| {
        let (id, cleaning) = id_number::normalize_id_number(raw)?;
        if cleaning.reformatted {
            findings.push((Code::IdReformatted, format!("{raw:?} → {id}")));
        }
        if cleaning.upgraded_from_15 {
            findings.push((
                Code::IdLegacy15,
                format!(
                    "15-digit number upgraded to {id}; no K-12 student has a genuine one: probably a guardian's number"
                ),
            ));
        }
        Some(id)
    })?;
    problems.extend(found);
    add_text(df, "id_norm", ids)?;

    let (ethnicities, found) = map_column(df, "ethnicity", |raw, findings| {
        let code = codes::normalize_ethnicity(raw);
        if code.is_none() {
            findings.push((Code::EthnicityInvalid, format!("{raw:?} is not a GB/T 3304 code or name")));
        }
        code.map(str::to_owned)
    })?;
    problems.extend(found);
    add_text(df, "ethnicity_norm", ethnicities)?;

    let (schools, _) = map_column(df, "school_code", |raw, _| codes::normalize_school_code(raw))?;
    add_text(df, "school_code_norm", schools)?;

    let (grades, found) = map_column(df, "grade", |raw, findings| {
        let grade = codes::normalize_grade(raw);
        if grade.is_none() {
            findings.push((Code::GradeInvalid, format!("{raw:?} is not a grade 1-12")));
        }
        grade.map(i32::from)
    })?;
    problems.extend(found);
    df.with_column(Int32Chunked::from_iter_options("grade_norm".into(), grades.into_iter()).into_column())?;

    let (classes, found) = map_column(df, "class", |raw, findings| {
        let class = codes::normalize_class(raw);
        if class.is_none() {
            findings.push((Code::ClassInvalid, format!("{raw:?} has no class number")));
        }
        class
    })?;
    problems.extend(found);
    add_text(df, "class_norm", classes)?;

    Ok(problems)
}

fn add_text(df: &mut DataFrame, name: &str, values: Vec<Option<String>>) -> Result<()> {
    df.with_column(StringChunked::from_iter_options(name.into(), values.into_iter()).into_column())?;
    Ok(())
}

/// Applies `f` to every non-null value of the text column `name` (all nulls when the inputs
/// have no such column), in parallel over row chunks in Polars' thread pool. `f` reports what it
/// found on a value into its findings; they become problems on that row with the value as raw.
pub fn map_column<T, F>(df: &DataFrame, name: &str, f: F) -> Result<(Vec<Option<T>>, Vec<Problem>)>
where
    T: Send,
    F: Fn(&str, &mut Findings) -> Option<T> + Sync,
{
    let Ok(column) = df.column(name) else {
        return Ok(((0..df.height()).map(|_| None).collect(), Vec::new()));
    };
    let values: Vec<Option<&str>> = column.str()?.iter().collect();
    let chunks: Vec<(Vec<Option<T>>, Vec<Problem>)> = THREAD_POOL.install(|| {
        values
            .par_chunks(CHUNK_ROWS)
            .enumerate()
            .map(|(chunk, values)| {
                let mut out = Vec::with_capacity(values.len());
                let mut problems = Vec::new();
                let mut findings = Findings::new();
                for (i, value) in values.iter().enumerate() {
                    out.push(value.and_then(|raw| f(raw, &mut findings)));
                    for (code, message) in findings.drain(..) {
                        problems.push(Problem {
                            record: chunk * CHUNK_ROWS + i,
                            code,
                            raw: value.map(str::to_owned),
                            message,
                        });
                    }
                }
                (out, problems)
            })
            .collect()
    });
    let mut out = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    for (values, found) in chunks {
        out.extend(values);
        problems.extend(found);
    }
    Ok((out, problems))
}
