//! Check: verdicts on every record — document numbers (GB 11643 and the other document types),
//! the recorded sex and birth date against the number, age against grade, registry codes — and
//! the exact duplicates (`duplicates`).

pub mod duplicates;
pub mod run;

use std::collections::HashSet;

use polars::prelude::*;

use crate::columns::{par_row_chunks, Ints, Text};
use crate::error::Result;
use crate::normalize::codes::{PROVINCE_CODES, SCHOOL_TYPES};
use crate::normalize::date::Date;
use crate::normalize::id_number::{self, NumberShape, ResidentNumber, StudentNumber};
use crate::normalize::region::{self, RegionStatus};
use crate::problems::{Code, Problem};

#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// The day the data is judged on: birth dates after it are in the future, and ages for grades
    /// are taken on 1 September of the school year it falls in.
    pub as_of: Date,
}

/// Ages on 1 September accepted for grade g: from g+5-1 to g+5+2 (a year early, or repeated or
/// late-entered up to two years).
pub const AGE_SLACK: std::ops::RangeInclusive<i32> = -1..=2;

/// What a valid resident-layout number says about its holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdFacts {
    pub birth: Date,
    pub male: bool,
}

type Findings = Vec<(Code, String)>;

/// Verifies the document number of one record against its declared type (`None`: not given, then
/// inferred from the number's shape). Returns the number's facts when it is a valid number of the
/// resident layout, for the cross-checks with the recorded sex and birth date.
pub fn verify_document(
    doc_type: Option<&str>,
    id: Option<&str>,
    as_of: Date,
    findings: &mut Findings,
) -> Option<IdFacts> {
    let Some(id) = id else {
        match doc_type {
            // Not an error (a student may have no document yet), but counted: police cannot
            // verify such a student, and the photo files follow the no-ID rule.
            Some("Z") => findings.push((
                Code::NoDocument,
                crate::say!(
                    "无身份证件：公安无法核验该学生身份",
                    "no identity document: police cannot verify this student"
                ),
            )),
            Some(t) => findings
                .push((Code::IdMissing, crate::say!("证件类型为{t}，但无证件号", "document type {t} but no number"))),
            None => findings
                .push((Code::IdMissing, crate::say!("无证件类型，也无证件号", "no document type and no number"))),
        }
        return None;
    };
    let shape = id_number::shape(id);
    let declared = doc_type.unwrap_or(match shape {
        NumberShape::ResidencePermit => "C",
        NumberShape::ForeignPermanent | NumberShape::ForeignPermanentOld => "9",
        NumberShape::Resident | NumberShape::Other => "1",
    });
    let expected: &[NumberShape] = match declared {
        "1" | "B" => &[NumberShape::Resident],
        "C" => &[NumberShape::ResidencePermit],
        "6" | "7" | "8" => &[NumberShape::ResidencePermit, NumberShape::Other],
        "9" => &[NumberShape::ForeignPermanent, NumberShape::ForeignPermanentOld],
        "A" => &[NumberShape::Other],
        _ => &[],
    };
    if !expected.contains(&shape) {
        if shape == NumberShape::Other {
            let wanted = if declared == "9" {
                crate::lang::pick(
                    "以9开头的18位数字，或3个字母加12位数字",
                    "18 digits starting with 9, or 3 letters and 12 digits",
                )
            } else {
                crate::lang::pick("18位：17位数字加1位数字或X", "18 characters: 17 digits and a digit or X")
            };
            findings.push((
                Code::IdFormat,
                crate::say!("共{}位，应为{wanted}", "{} characters; expected {wanted}", id.chars().count()),
            ));
            return None;
        }
        findings.push((
            Code::IdTypeMismatch,
            crate::say!(
                "证件类型为{declared}，但号码是{}的格式",
                "document type {declared} but the number has the layout of {}",
                shape_label(shape)
            ),
        ));
    }
    match shape {
        NumberShape::Resident | NumberShape::ResidencePermit => {
            verify_gb11643(id, shape == NumberShape::Resident, as_of, findings)
        }
        NumberShape::ForeignPermanent => {
            let n = ResidentNumber::parse(id)?;
            if !n.checksum_ok(id) {
                findings.push((
                    Code::IdChecksum,
                    crate::say!(
                        "校验位应为{}，实为{}",
                        "check character should be {}, is {}",
                        n.expected_check,
                        &id[17..]
                    ),
                ));
            }
            None
        }
        NumberShape::ForeignPermanentOld => None,
        NumberShape::Other => {
            let plausible = (5..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !plausible {
                findings.push((
                    Code::IdFormat,
                    crate::say!("“{id}”不是5-20位字母和数字", "{id:?} is not 5-20 letters and digits"),
                ));
            }
            None
        }
    }
}

/// 男 or 女 (male or female in English) for a GB/T 2261.1 code.
pub fn sex_label(code: &str) -> &'static str {
    match code {
        "1" => crate::lang::pick("男", "male"),
        "2" => crate::lang::pick("女", "female"),
        _ => "",
    }
}

fn shape_label(shape: NumberShape) -> &'static str {
    match shape {
        NumberShape::Resident => crate::lang::pick("居民身份证(类型1)", "a resident identity number (type 1)"),
        NumberShape::ResidencePermit => {
            crate::lang::pick("港澳台居民居住证(类型C)", "a HK/Macau/Taiwan residence permit (type C)")
        }
        NumberShape::ForeignPermanent | NumberShape::ForeignPermanentOld => {
            crate::lang::pick("外国人永久居留身份证(类型9)", "a foreigner's permanent residence card (type 9)")
        }
        NumberShape::Other => crate::lang::pick("护照或通行证", "a passport or travel permit"),
    }
}

/// GB 11643: real birth date not after `as_of`, MOD 11-2 check character, and (for resident
/// numbers) a region code from GB/T 2260.
fn verify_gb11643(id: &str, check_region: bool, as_of: Date, findings: &mut Findings) -> Option<IdFacts> {
    let n = ResidentNumber::parse(id)?;
    let mut valid = true;
    match n.birth {
        None => {
            findings.push((
                Code::IdDateInvalid,
                crate::say!("号码中的出生日期{}不存在", "{} is not a real date", &id[6..14]),
            ));
            valid = false;
        }
        Some(birth) if birth > as_of => {
            findings.push((
                Code::IdDateInvalid,
                crate::say!("号码中的出生日期{birth}晚于{as_of}", "{birth} is after {as_of}"),
            ));
            valid = false;
        }
        Some(_) => {}
    }
    if !n.checksum_ok(id) {
        findings.push((
            Code::IdChecksum,
            crate::say!("校验位应为{}，实为{}", "check character should be {}, is {}", n.expected_check, &id[17..]),
        ));
        valid = false;
    }
    let birth = n.birth.filter(|_| valid)?;
    if check_region {
        match region::region_status(n.region, birth.year) {
            RegionStatus::Valid => {}
            RegionStatus::OtherYears => findings.push((
                Code::IdRegionAnachronism,
                crate::say!(
                    "行政区划{}({}){}年时尚未设立或已撤销",
                    "region {} ({}) did not exist in {}",
                    n.region,
                    region::region_name(n.region).unwrap_or("?"),
                    birth.year
                ),
            )),
            RegionStatus::Unknown => findings.push((
                Code::IdRegionUnknown,
                crate::say!("行政区划代码{}不在任何年份的GB/T 2260中", "region {} is in no GB/T 2260 table", n.region),
            )),
        }
    }
    Some(IdFacts { birth, male: n.male })
}

/// 1 September of the school year `as_of` falls in.
pub fn school_year_start(as_of: Date) -> Date {
    let year = if as_of.month >= 9 { as_of.year } else { as_of.year - 1 };
    Date { year, month: 9, day: 1 }
}

/// Every per-record problem of the normalized records (the exact duplicates, which need the
/// others, are [`duplicates::exact_duplicates`]'s). Records whose number lost digits in a
/// spreadsheet (`lost_ids`) are not verified: their number is not theirs.
pub fn check(df: &DataFrame, lost_ids: &HashSet<usize>, options: &CheckOptions) -> Result<Vec<Problem>> {
    let has = |name: &str| df.column(name).is_ok();
    let (has_ethnicity, has_school, has_student_no) = (has("ethnicity"), has("school_code"), has("student_no"));
    let name = Text::of(df, "name")?;
    let sex = Text::of(df, "sex")?;
    let birth_raw = Text::of(df, "birth_date")?;
    let ethnicity = Text::optional(df, "ethnicity")?;
    let student_no = Text::optional(df, "student_no")?;
    let sex_norm = Text::of(df, "sex_norm")?;
    let doc_type = Text::of(df, "id_type_norm")?;
    let id_norm = Text::of(df, "id_norm")?;
    let school = Text::of(df, "school_code_norm")?;
    let birth = Ints::of(df, "birth_date_norm")?;
    let grade = Ints::of(df, "grade_norm")?;
    let as_of = options.as_of;
    let september = school_year_start(as_of);

    let check_one = |i: usize, findings: &mut Findings| {
        // 不详 and the like are no value (VALUE_UNKNOWN says what was typed).
        let missing = |value: Option<&str>| value.is_none_or(crate::normalize::codes::is_unknown_word);
        if missing(name.get(i)) {
            findings.push((Code::NameMissing, crate::say!("姓名为空", "no name")));
        }
        if sex.get(i).is_none() {
            findings.push((Code::SexMissing, crate::say!("性别为空", "no sex")));
        }
        let recorded_birth = birth.get(i).map(Date::from_epoch_days);
        match recorded_birth {
            None if missing(birth_raw.get(i)) => findings.push((
                Code::BirthDateMissing,
                match birth_raw.get(i) {
                    Some(word) => {
                        crate::say!("出生日期填为“{word}”，未填写", "the birth date says {word:?}: not given")
                    }
                    None => crate::say!("出生日期为空", "no birth date"),
                },
            )),
            Some(b) if b > as_of => {
                findings.push((Code::BirthDateFuture, crate::say!("出生日期{b}晚于{as_of}", "{b} is after {as_of}")))
            }
            _ => {}
        }
        let facts = if lost_ids.contains(&i) {
            None
        } else {
            verify_document(doc_type.get(i), id_norm.get(i), as_of, findings)
        };
        if let Some(facts) = facts {
            if let Some(s @ ("1" | "2")) = sex_norm.get(i) {
                if (s == "1") != facts.male {
                    let said = if facts.male {
                        crate::lang::pick("男(顺序码为奇数)", "male (odd sequence)")
                    } else {
                        crate::lang::pick("女(顺序码为偶数)", "female (even sequence)")
                    };
                    findings.push((
                        Code::IdSexMismatch,
                        crate::say!("登记为{}，证件号为{said}", "recorded {} but the number says {said}", sex_label(s)),
                    ));
                }
            }
            if let Some(recorded) = recorded_birth.filter(|&b| b != facts.birth) {
                findings.push((
                    Code::IdBirthMismatch,
                    crate::say!(
                        "登记为{recorded}，证件号为{}",
                        "recorded {recorded} but the number says {}",
                        facts.birth
                    ),
                ));
            }
        }
        if let (Some(grade), Some(born)) = (grade.get(i), recorded_birth.or(facts.map(|f| f.birth))) {
            let age = born.age_on(september);
            let expected = grade + 5;
            if !AGE_SLACK.contains(&(age - expected)) {
                findings.push((
                    Code::AgeGradeMismatch,
                    crate::say!(
                        "生于{born}，{september}时{age}岁，{grade}年级应约为{expected}岁",
                        "born {born}: {age} on {september}, grade {grade} expects about {expected}"
                    ),
                ));
            }
        }
        if has_ethnicity && missing(ethnicity.get(i)) {
            findings.push((Code::EthnicityMissing, crate::say!("民族为空", "no ethnicity")));
        }
        if has_school {
            match school.get(i) {
                None => findings.push((Code::SchoolCodeMissing, crate::say!("学校标识码为空", "no school code"))),
                Some(code) => check_school_code(code, findings),
            }
        }
        if let Some(no) = student_no.get(i).filter(|_| has_student_no) {
            match id_number::parse_student_number(no.trim()) {
                Err(why) => findings.push((Code::StudentNoInvalid, crate::lang::pick(why.0, why.1).into())),
                Ok(StudentNumber::Formal(carried)) => {
                    // A number a spreadsheet rounded is reported as that, with the G-number's
                    // digits proposed: no mismatch besides.
                    if let Some(id) = id_norm.get(i).filter(|&id| id != carried && !lost_ids.contains(&i)) {
                        findings.push((
                            Code::StudentNoIdMismatch,
                            crate::say!(
                                "全国学籍号中的证件号为{carried}，登记的证件号为{id}",
                                "G-number carries {carried}, the record's number is {id}"
                            ),
                        ));
                    }
                }
                Ok(_) => {}
            }
        }
    };

    let raw_of = |code: Code, i: usize| -> Option<String> {
        let value = match code.kind().field {
            "name" => name.get(i),
            "sex" => sex.get(i),
            "birth_date" => birth_raw.get(i),
            "id_number" | "id_type" => id_norm.get(i),
            "ethnicity" => ethnicity.get(i),
            "school_code" => school.get(i),
            "student_no" => student_no.get(i),
            _ => None,
        };
        value.map(str::to_owned)
    };
    let chunks = par_row_chunks(df.height(), |rows| {
        let mut problems = Vec::new();
        let mut findings = Findings::new();
        for i in rows {
            check_one(i, &mut findings);
            problems.extend(findings.drain(..).map(|(code, message)| Problem {
                record: i,
                code,
                raw: raw_of(code, i),
                message,
            }));
        }
        problems
    });
    Ok(chunks.into_iter().flatten().collect())
}

/// 学校标识码 `AABBCCCCCC`: 10 digits, BB a province code; AA an unknown school type is only noted.
fn check_school_code(code: &str, findings: &mut Findings) {
    if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
        findings.push((Code::SchoolCodeInvalid, crate::say!("“{code}”不是10位数字", "{code:?} is not 10 digits")));
    } else if !PROVINCE_CODES.contains(&&code[2..4]) {
        findings.push((
            Code::SchoolCodeInvalid,
            crate::say!("第3-4位({})不是省级代码", "digits 3-4 ({}) are no province code", &code[2..4]),
        ));
    } else if !SCHOOL_TYPES.iter().any(|(t, _)| *t == &code[..2]) {
        findings.push((
            Code::SchoolTypeUnknown,
            crate::say!("办学类型{}不在已知列表中", "school type {} is not in xueji's list", &code[..2]),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AS_OF: Date = Date { year: 2026, month: 11, day: 29 };

    fn verify(doc_type: Option<&str>, id: Option<&str>) -> (Option<IdFacts>, Vec<Code>) {
        let mut findings = Findings::new();
        let facts = verify_document(doc_type, id, AS_OF, &mut findings);
        (facts, findings.into_iter().map(|(c, _)| c).collect())
    }

    #[test]
    fn valid_resident_numbers_give_their_facts() {
        let (facts, codes) = verify(Some("1"), Some("44011320141005001X"));
        assert_eq!(codes, vec![]);
        assert_eq!(facts, Some(IdFacts { birth: Date::new(2014, 10, 5).unwrap(), male: true }));
        assert_eq!(verify(None, Some("44011320141005001X")).1, vec![], "type inferred");
        assert_eq!(verify(Some("B"), Some("44011320141005001X")).1, vec![], "户口簿 carries the ID number");
    }

    #[test]
    fn invalid_vectors_get_their_codes() {
        assert_eq!(verify(Some("1"), Some("110105194912310021")).1, vec![Code::IdChecksum]);
        assert_eq!(verify(Some("1"), Some("36042619910102009X")).1, vec![Code::IdChecksum]);
        assert!(verify(Some("1"), Some("360426199113010079")).1.contains(&Code::IdDateInvalid));
        assert!(verify(Some("1"), Some("11010519490229002X")).1.contains(&Code::IdDateInvalid));
        assert_eq!(verify(Some("1"), Some("1101051949123100")).1, vec![Code::IdFormat]);
        assert_eq!(verify(Some("1"), Some("11010519491231002Y")).1, vec![Code::IdFormat]);
        assert_eq!(verify(Some("1"), None).1, vec![Code::IdMissing]);
        assert_eq!(verify(None, None).1, vec![Code::IdMissing]);
        assert_eq!(verify(Some("Z"), None).1, vec![Code::NoDocument], "no document: a warning, counted");
    }

    #[test]
    fn region_codes_are_checked() {
        let mut id = String::from("19010520140101001");
        id.push(char::from(crate::normalize::id_number::check_char(id.as_bytes()).unwrap()));
        assert_eq!(verify(Some("1"), Some(&id)).1, vec![Code::IdRegionUnknown]);
        assert_eq!(
            verify(Some("1"), Some("440524188001010014")).1,
            vec![Code::IdRegionAnachronism],
            "440524 existed 1983-1992, not in 1880"
        );
    }

    #[test]
    fn other_document_types() {
        assert_eq!(verify(Some("C"), Some("810000199408230021")).1, vec![]);
        assert_eq!(verify(None, Some("830000199201300022")).1, vec![]);
        assert_eq!(verify(Some("1"), Some("810000199408230021")).1, vec![Code::IdTypeMismatch]);
        assert_eq!(verify(Some("6"), Some("810000199408230021")).1, vec![]);
        assert_eq!(verify(Some("6"), Some("H12345678")).1, vec![]);
        assert_eq!(verify(Some("A"), Some("E12345678")).1, vec![]);
        assert_eq!(verify(Some("A"), Some("E1")).1, vec![Code::IdFormat]);
        assert_eq!(verify(Some("A"), Some("44011320141005001X")).1, vec![Code::IdTypeMismatch]);
        assert_eq!(verify(Some("Z"), Some("44011320141005001X")).1, vec![Code::IdTypeMismatch]);
        assert_eq!(verify(Some("9"), Some("USA110012345678")).1, vec![]);
        let mut foreign = String::from("93311020140101001");
        foreign.push(char::from(crate::normalize::id_number::check_char(foreign.as_bytes()).unwrap()));
        assert_eq!(verify(Some("9"), Some(&foreign)).1, vec![]);
        foreign.replace_range(17.., if foreign.ends_with('0') { "1" } else { "0" });
        assert_eq!(verify(Some("9"), Some(&foreign)).1, vec![Code::IdChecksum]);
        assert_eq!(verify(Some("9"), Some("E12345678")).1, vec![Code::IdFormat]);
    }

    #[test]
    fn school_codes() {
        let codes = |code: &str| {
            let mut findings = Findings::new();
            check_school_code(code, &mut findings);
            findings.into_iter().map(|(c, _)| c).collect::<Vec<_>>()
        };
        assert_eq!(codes("1144001800"), vec![]);
        assert_eq!(codes("2121001234"), vec![]);
        assert_eq!(codes("114400180"), vec![Code::SchoolCodeInvalid]);
        assert_eq!(codes("1199001800"), vec![Code::SchoolCodeInvalid]);
        assert_eq!(codes("9944001800"), vec![Code::SchoolTypeUnknown]);
    }

    #[test]
    fn school_year() {
        assert_eq!(school_year_start(AS_OF), Date::new(2026, 9, 1).unwrap());
        assert_eq!(school_year_start(Date::new(2026, 3, 1).unwrap()), Date::new(2025, 9, 1).unwrap());
    }
}
