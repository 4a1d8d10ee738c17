//! Normalize: new columns with the forms records are checked and compared on; the original
//! columns stay as they were read. What normalization had to clean or could not read is reported
//! as problems here; cross-field verdicts are `check`'s.

pub mod codes;
pub mod date;
pub mod id_number;
pub mod name;
pub mod places;
pub mod region;

use std::collections::HashMap;

use polars::prelude::*;

use crate::columns::{concat, par_row_chunks, Text};
use crate::error::Result;
use crate::problems::{Code, Problem};

/// Readings of heteronym names kept in `name_pinyin_alt`.
const PINYIN_VARIANTS: usize = 8;

/// Findings of one normalizer on one value: code and message.
type Findings = Vec<(Code, String)>;

/// Adds the normalized columns to `df` (which must be rechunked) and returns the problems
/// normalization found.
pub fn normalize(df: &mut DataFrame) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();

    let (names, found) = map_column(
        df,
        "name",
        |raw, findings| {
            let (norm, flags) = name::normalize_name(raw);
            let pairs = [
                (flags.whitespace, Code::NameWhitespace),
                (flags.dot_variant, Code::NameDotVariant),
                (flags.traditional, Code::NameTraditional),
                (flags.latin, Code::NameLatin),
                (flags.digit, Code::NameDigit),
                (flags.symbol, Code::NameSymbol),
                (flags.private_use, Code::NamePrivateUse),
                (flags.described, Code::NameDescribedChar),
            ];
            // Said as a person reads it: the name in quotes, an ideographic space as 全角空格, and
            // what it is compared as only where that differs.
            let shown = |text: &str| text.replace('\u{3000}', "[全角空格]").replace('\t', "[制表符]");
            // Made only for a name with something to say: most have nothing.
            if pairs.iter().any(|(flag, _)| *flag) {
                let message = if norm == raw {
                    crate::say!("姓名“{}”", "name {:?}", shown(raw))
                } else {
                    crate::say!("姓名“{}”按“{}”比对", "name {:?}, compared as {:?}", shown(raw), shown(&norm))
                };
                for (_, code) in pairs.into_iter().filter(|(flag, _)| *flag) {
                    findings.push((code, message.clone()));
                }
            }
            let pinyin = name::name_pinyin(&norm);
            // Only names with heteronyms (a minority) pay for enumerating their readings.
            let alt = name::has_heteronym(&norm)
                .then(|| name::name_pinyin_variants(&norm, PINYIN_VARIANTS + 1))
                .and_then(|readings| {
                    let others: Vec<String> = readings.into_iter().filter(|r| *r != pinyin).collect();
                    (!others.is_empty()).then(|| others.join("|"))
                });
            (!norm.is_empty()).then_some((norm, pinyin, alt))
        },
        |values| {
            let norm =
                StringChunked::from_iter_options("".into(), values.iter().map(|v| v.as_ref().map(|v| v.0.as_str())));
            let pinyin =
                StringChunked::from_iter_options("".into(), values.iter().map(|v| v.as_ref().map(|v| v.1.as_str())));
            let alt = StringChunked::from_iter_options(
                "".into(),
                values.iter().map(|v| v.as_ref().and_then(|v| v.2.as_deref())),
            );
            (norm, pinyin, alt)
        },
    )?;
    problems.extend(found);
    let (mut norm, mut pinyin, mut alt) = (Vec::new(), Vec::new(), Vec::new());
    for (n, p, a) in names {
        norm.push(n);
        pinyin.push(p);
        alt.push(a);
    }
    df.with_column(concat("name_norm", norm)?)?;
    df.with_column(concat("name_pinyin", pinyin)?)?;
    df.with_column(concat("name_pinyin_alt", alt)?)?;

    let (sexes, found) = map_text(df, "sex", |raw, findings| {
        let sex = codes::normalize_sex(raw);
        if sex.is_none() {
            findings.push((
                Code::SexInvalid,
                crate::say!("“{raw}”不是男/女、1/2或M/F", "{raw:?} is not 男/女, 1/2 or M/F"),
            ));
        }
        sex.map(str::to_owned)
    })?;
    problems.extend(found);
    df.with_column(concat("sex_norm", sexes)?)?;

    let (dates, found) = map_column(
        df,
        "birth_date",
        |raw, findings| {
            let parsed = date::parse_date(raw);
            if parsed.is_none() {
                // 出生年月 (`2015.07`) is a date without its day, not a wrong one: completed below
                // from the record's number where it can be.
                let finding = match date::parse_year_month(raw) {
                    Some(_) => (
                        Code::BirthDatePartial,
                        crate::say!("“{raw}”只有年月，没有日", "{raw:?} has a year and month, no day"),
                    ),
                    None => (
                        Code::BirthDateInvalid,
                        crate::say!("“{raw}”不是可识别格式的真实日期", "{raw:?} is not a real date in a known format"),
                    ),
                };
                findings.push(finding);
            }
            parsed.map(date::Date::to_epoch_days)
        },
        |values| Int32Chunked::from_iter_options("".into(), values.into_iter()),
    )?;
    problems.extend(found);
    df.with_column(concat("birth_date_norm", dates)?.cast(&DataType::Date)?)?;

    let (types, found) = map_text(df, "id_type", |raw, findings| {
        let code = codes::normalize_document_type(raw);
        if code.is_none() {
            findings.push((
                Code::DocumentTypeInvalid,
                crate::say!(
                    "“{raw}”不是身份证件类型代码(1、6、7、8、9、A、B、C、Z)",
                    "{raw:?} is not a 身份证件类型 code (1, 6, 7, 8, 9, A, B, C, Z)"
                ),
            ));
        }
        code.map(str::to_owned)
    })?;
    problems.extend(found);
    df.with_column(concat("id_type_norm", types)?)?;

    let (ids, found) = map_text(df, "id_number", |raw, findings| {
        let (id, cleaning) = id_number::normalize_id_number(raw)?;
        if cleaning.reformatted {
            findings.push((
                Code::IdReformatted,
                crate::say!("证件号“{}”已规范为{id}", "{:?} cleaned to {id}", raw.replace('\u{3000}', "[全角空格]")),
            ));
        }
        if cleaning.upgraded_from_15 {
            findings.push((
                Code::IdLegacy15,
                crate::say!(
                    "15位号码已升位为{id}；中小学生不会有真正的15位身份证号，可能是监护人的号码",
                    "15-digit number upgraded to {id}; no K-12 student has a genuine one: probably a guardian's number"
                ),
            ));
        }
        Some(id)
    })?;
    problems.extend(found);
    df.with_column(concat("id_norm", ids)?)?;
    complete_partial_births(df, &mut problems)?;

    let (ethnicities, found) = map_text(df, "ethnicity", |raw, findings| {
        let code = codes::normalize_ethnicity(raw);
        if code.is_none() {
            findings.push((
                Code::EthnicityInvalid,
                crate::say!("“{raw}”不是GB/T 3304民族代码或名称", "{raw:?} is not a GB/T 3304 code or name"),
            ));
        }
        code.map(str::to_owned)
    })?;
    problems.extend(found);
    df.with_column(concat("ethnicity_norm", ethnicities)?)?;

    let (schools, _) = map_text(df, "school_code", |raw, _| codes::normalize_school_code(raw))?;
    df.with_column(concat("school_code_norm", schools)?)?;

    let (grades, found) = map_column(
        df,
        "grade",
        |raw, findings| {
            let grade = codes::normalize_grade(raw);
            if grade.is_none() {
                findings.push((Code::GradeInvalid, crate::say!("“{raw}”不是1-12年级", "{raw:?} is not a grade 1-12")));
            }
            grade.map(i32::from)
        },
        |values| Int32Chunked::from_iter_options("".into(), values.into_iter()),
    )?;
    problems.extend(found);
    df.with_column(concat("grade_norm", grades)?)?;

    let (classes, found) = map_text(df, "class", |raw, findings| {
        let class = codes::normalize_class(raw);
        if class.is_none() {
            findings.push((Code::ClassInvalid, crate::say!("“{raw}”中没有班号", "{raw:?} has no class number")));
        }
        class
    })?;
    problems.extend(found);
    df.with_column(concat("class_norm", classes)?)?;

    let (phones, _) = map_text(df, "guardian_phone", |raw, _| codes::normalize_phone(raw))?;
    df.with_column(concat("guardian_phone_norm", phones)?)?;
    crate::columns::repeated(df)?;

    Ok(problems)
}

/// [`map_column`] for normalizers whose result is text.
/// A birth date of year and month only takes its day from the record's own number when the
/// number is well formed and carries that year and month (BIRTH_DATE_COMPLETED, info); otherwise
/// it stays a partial date (BIRTH_DATE_PARTIAL) and `birth_date_norm` stays empty.
fn complete_partial_births(df: &mut DataFrame, problems: &mut [Problem]) -> Result<()> {
    let (raws, ids) = (Text::optional(df, "birth_date")?, Text::of(df, "id_norm")?);
    let mut completed: Vec<(usize, i32)> = Vec::new();
    for problem in problems.iter_mut().filter(|p| p.code == Code::BirthDatePartial) {
        let i = problem.record;
        let (Some(raw), Some(id)) = (raws.get(i), ids.get(i)) else { continue };
        let number = crate::normalize::id_number::ResidentNumber::parse(id);
        let own = number.filter(|n| id.ends_with(n.expected_check)).and_then(|n| n.birth);
        if let (Some((year, month)), Some(birth)) = (date::parse_year_month(raw), own) {
            if (birth.year, birth.month) == (year, month) {
                problem.code = Code::BirthDateCompleted;
                problem.message = crate::say!(
                    "“{raw}”没有日，已按证件号补全为{birth}",
                    "{raw:?} has no day: {birth}, as the ID number gives it"
                );
                completed.push((i, birth.to_epoch_days()));
            }
        }
    }
    if !completed.is_empty() {
        let mut days: Vec<Option<i32>> = df.column("birth_date_norm")?.cast(&DataType::Int32)?.i32()?.iter().collect();
        for (i, day) in completed {
            days[i] = Some(day);
        }
        let column = Int32Chunked::from_iter_options("birth_date_norm".into(), days.into_iter()).into_column();
        df.with_column(column.cast(&DataType::Date)?)?;
    }
    Ok(())
}

fn map_text<F>(df: &DataFrame, name: &str, f: F) -> Result<(Vec<StringChunked>, Vec<Problem>)>
where
    F: Fn(&str, &mut Findings) -> Option<String> + Sync,
{
    map_column(df, name, f, |values| StringChunked::from_iter_options("".into(), values.into_iter()))
}

/// Applies `f` to every non-null value of the text column `name` (all nulls when the inputs have
/// no such column), in parallel row chunks; `build` turns each chunk's results into column
/// pieces, so no more than a chunk of intermediate values is ever held. What `f` reports into
/// its findings becomes problems on that row, with the value as raw. In a
/// [`repeated`](crate::columns::repeated) column `f` runs once per value and chunk.
pub fn map_column<T, C, F, B>(df: &DataFrame, name: &str, f: F, build: B) -> Result<(Vec<C>, Vec<Problem>)>
where
    T: Clone,
    C: Send,
    F: Fn(&str, &mut Findings) -> Option<T> + Sync,
    B: Fn(Vec<Option<T>>) -> C + Sync,
{
    let column = Text::optional(df, name)?;
    let unknown_as_blank = !matches!(name, "sex" | "id_type");
    let chunks = par_row_chunks(df.height(), |rows| {
        let mut out = Vec::with_capacity(rows.len());
        let mut problems = Vec::new();
        let mut findings = Findings::new();
        let mut seen: HashMap<u32, (Option<T>, Findings)> = HashMap::new();
        for i in rows.clone() {
            let value = column.get(i);
            // A word for unknown is no value, said once (not as an invalid date, name or number).
            let value = match value {
                Some(raw) if unknown_as_blank && codes::is_unknown_word(raw) => {
                    out.push(None);
                    let message = crate::say!(
                        "“{}”填写为“{raw}”，按未填处理",
                        "{} is {raw:?}: read as no value",
                        crate::schema::label(name)
                    );
                    problems.push(Problem { record: i, code: Code::ValueUnknown, raw: Some(raw.to_owned()), message });
                    continue;
                }
                value => value,
            };
            let found = match (column.category(i), value) {
                (Some(category), Some(raw)) => {
                    let (result, found) = seen.entry(category).or_insert_with(|| {
                        let mut found = Findings::new();
                        (f(raw, &mut found), found)
                    });
                    findings.extend(found.iter().cloned());
                    result.clone()
                }
                _ => value.and_then(|raw| f(raw, &mut findings)),
            };
            out.push(found);
            for (code, message) in findings.drain(..) {
                problems.push(Problem { record: i, code, raw: value.map(str::to_owned), message });
            }
        }
        (build(out), problems)
    });
    let mut pieces = Vec::with_capacity(chunks.len());
    let mut problems = Vec::new();
    for (piece, found) in chunks {
        pieces.push(piece);
        problems.extend(found);
    }
    Ok((pieces, problems))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn name_messages_read_as_people_read_them() {
        let mut df = df!("name" => ["李可\u{3000}馨", "龙子轩4"]).unwrap();
        let problems = normalize(&mut df).unwrap();
        let message = |code: Code| problems.iter().find(|p| p.code == code).map(|p| p.message.clone()).unwrap();
        assert_eq!(message(Code::NameWhitespace), "姓名“李可[全角空格]馨”按“李可馨”比对");
        assert_eq!(message(Code::NameDigit), "姓名“龙子轩4”", "no change to show");
    }

    #[test]
    fn a_repeated_column_is_normalized_once_per_value_and_reported_on_every_row() {
        let plain = df!("sex" => [Some("男"), Some("x"), None, Some("x"), Some("2")]).unwrap();
        let mut coded = plain.clone();
        crate::columns::repeated(&mut coded).unwrap();
        assert!(coded.column("sex").unwrap().dtype().is_categorical());
        let normalize = |df: &DataFrame| {
            let calls = AtomicUsize::new(0);
            let (pieces, problems) = map_text(df, "sex", |raw, findings| {
                calls.fetch_add(1, Ordering::Relaxed);
                let sex = codes::normalize_sex(raw);
                if sex.is_none() {
                    findings.push((Code::SexInvalid, format!("{raw:?}")));
                }
                sex.map(str::to_owned)
            })
            .unwrap();
            let values: Vec<Option<String>> =
                pieces.iter().flat_map(|c| c.iter().map(|v| v.map(str::to_owned)).collect::<Vec<_>>()).collect();
            let problems: Vec<_> = problems.into_iter().map(|p| (p.record, p.code, p.raw, p.message)).collect();
            (values, problems, calls.into_inner())
        };
        let (plain, coded) = (normalize(&plain), normalize(&coded));
        assert_eq!(plain.0, coded.0);
        assert_eq!(plain.1, coded.1);
        assert_eq!(coded.1.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 3], "each row of the bad value");
        assert_eq!((plain.2, coded.2), (4, 3), "four values, three of them different");
    }
}
