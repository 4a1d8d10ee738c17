//! People and their registrations: identities with valid ID numbers, twins, duplicate
//! registrations with typing errors, borrowed ID numbers, and injected data-quality problems,
//! each record carrying the truth about itself.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::names::{self, POOLS};
use super::{GenerateOptions, Province, Style};
use crate::check::{school_year_start, AGE_SLACK};
use crate::normalize::date::Date;
use crate::normalize::id_number::check_char;
use crate::normalize::id_number::{shape, NumberShape};
use crate::problems::Code;
use crate::rng::{Rng, Weighted};

mod duplicate;

pub const PURPOSE_PROVINCE: u64 = 1;
const PURPOSE_IDENTITY: u64 = 2;
const PURPOSE_PERSON: u64 = 3;
const PURPOSE_TWIN: u64 = 4;
const PURPOSE_MISUSE: u64 = 5;
const PURPOSE_DUPLICATE: u64 = 6;
const PURPOSE_PROBLEM: u64 = 7;
const PURPOSE_FAMILY: u64 = 8;
const PURPOSE_RARE: u64 = 9;
pub const PURPOSE_EXCEL_SAVED: u64 = 10;

/// Rare characters (生僻字) of names, each with the common character schools type for it and
/// its description by parts: how one child's name arrives from schools with and without them.
pub const RARE_CHARACTERS: [(char, char, &str); 2] = [('𠮷', '吉', "⿱土口"), ('䶮', '俨', "[龙天]")];

/// The share of children whose name ends in a rare character.
const RARE_SHARE: f64 = 0.02;

/// The share of twins whose school puts them in different classes of their grade.
const TWINS_APART: f64 = 0.3;

/// The share of twins where the second is registered with the first's number (a household
/// register read wrong, a form filled in once for both): police answer 一致 for one and
/// 姓名与身份证号码不匹配 for the other.
const TWIN_BORROWS: f64 = 0.03;

pub const DATE_FORMATS: usize = 5;

/// The columns of a generated sheet, as the template names them.
pub const COLUMNS: [&str; 17] = [
    "学籍辅号",
    "姓名",
    "性别",
    "出生日期",
    "身份证件类型",
    "身份证件号",
    "民族",
    "全国学籍号",
    "学校标识码",
    "学校名称",
    "年级",
    "班级",
    "户口所在地",
    "监护人姓名",
    "监护人联系电话",
    "所属地市",
    "所属区县",
];

/// Indices into [`COLUMNS`].
pub(super) mod col {
    pub const RECORD_ID: usize = 0;
    pub const NAME: usize = 1;
    pub const SEX: usize = 2;
    pub const BIRTH: usize = 3;
    pub const DOC_TYPE: usize = 4;
    pub const ID: usize = 5;
    pub const ETHNICITY: usize = 6;
    pub const STUDENT_NO: usize = 7;
    pub const SCHOOL_CODE: usize = 8;
    pub const GRADE: usize = 10;
}

/// Ethnic mix (GB/T 3304 code, share); 05 维吾尔族 and 17 哈萨克族 get transliterated names.
const ETHNICITIES: [(&str, f64); 11] = [
    ("01", 0.90),
    ("11", 0.03),
    ("03", 0.015),
    ("02", 0.01),
    ("08", 0.01),
    ("05", 0.01),
    ("06", 0.007),
    ("10", 0.005),
    ("15", 0.005),
    ("07", 0.005),
    ("17", 0.003),
];

/// What an ID number is built from; enough to find collisions before anything else is drawn.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub class: usize,
    pub male: bool,
    pub birth: Date,
    /// Household county (index into the province's counties): the ID's region.
    pub county: usize,
    pub seq: u16,
    /// The other twin, for both twins.
    pub twin_of: Option<usize>,
}

pub struct Person {
    pub index: usize,
    pub identity: Identity,
    pub surname: &'static str,
    pub name: String,
    pub ethnicity: &'static str,
    pub id: String,
    pub guardian_name: String,
    pub guardian_phone: String,
    pub guardian_male: bool,
    pub guardian_birth: Date,
    pub twin_of: Option<usize>,
    /// The classmate whose ID number this person's record carries.
    pub misuses: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Original,
    Duplicate,
    /// The record carries another person's ID number.
    Misuse,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Original => "original",
            Role::Duplicate => "duplicate",
            Role::Misuse => "misuse",
        }
    }
}

/// One generated registration: the sheet's cells and the truth about them.
#[derive(Clone)]
pub struct Record {
    pub values: [String; COLUMNS.len()],
    pub person: usize,
    pub role: Role,
    pub twin_of: Option<usize>,
    pub perturbations: Vec<&'static str>,
    /// Problem codes `xueji check` should raise on this record by itself (the exact-duplicate
    /// codes, which depend on other records, are worked out over the whole population).
    pub expected: Vec<Code>,
    pub injected: Option<Code>,
    pub true_name: String,
    pub true_id: String,
    /// The province whose sheet holds it (an index into the generated ones).
    pub province: usize,
    /// Where the record sits, for ordering the sheet by school and class.
    pub class: usize,
}

/// What a record says, beside its text: the facts the checks will compare.
struct Facts {
    /// Birth date and sex of the number as written, when it is a valid number.
    id: Option<(Date, bool)>,
    birth: Option<Date>,
    male: Option<bool>,
    grade: Option<u8>,
}

/// The injected data-quality problems: each is typed into one field and has one code.
const INJECTABLE: [Code; 20] = [
    Code::IdChecksum,
    Code::IdDateInvalid,
    Code::IdFormat,
    Code::IdMissing,
    Code::IdRegionUnknown,
    Code::IdLegacy15,
    Code::IdSexMismatch,
    Code::IdBirthMismatch,
    Code::BirthDateInvalid,
    Code::BirthDateMissing,
    Code::NameDigit,
    Code::NameMissing,
    Code::SexInvalid,
    Code::SexMissing,
    Code::EthnicityInvalid,
    Code::SchoolCodeInvalid,
    Code::GradeInvalid,
    Code::AgeGradeMismatch,
    Code::StudentNoInvalid,
    Code::NameWhitespace,
];

pub struct World<'a> {
    /// This province's share of the options (its students and seed).
    options: &'a GenerateOptions,
    /// Where the people live and first register: `provinces[home]`.
    province: &'a Province,
    provinces: &'a [Province],
    home: usize,
    /// The index of this province's first person among all provinces' people.
    offset: usize,
    ethnicities: Weighted<&'static str>,
    school_year: Date,
}

/// A number with its check character appended.
fn with_check(body: &str) -> String {
    let mut id = body.to_owned();
    if let Some(c) = check_char(body.as_bytes()) {
        id.push(char::from(c));
    }
    id
}

impl<'a> World<'a> {
    /// The people of `provinces[home]`, numbered from `offset` on.
    pub fn new(options: &'a GenerateOptions, provinces: &'a [Province], home: usize, offset: usize) -> World<'a> {
        World {
            options,
            province: &provinces[home],
            provinces,
            home,
            offset,
            ethnicities: Weighted::new(ETHNICITIES),
            school_year: school_year_start(options.as_of),
        }
    }

    fn rng(&self, index: usize, purpose: u64) -> Rng {
        Rng::keyed(self.options.seed, index as u64, purpose)
    }

    /// Person `i` and `i + 1` are twins when `i` is a multiple of 4 and both sit in one class.
    fn twin_pair_starts_at(&self, i: usize) -> bool {
        i % 4 == 0
            && i + 1 < self.options.students
            && self.province.class_of(i) == self.province.class_of(i + 1)
            && self.rng(i, PURPOSE_TWIN).chance(4.0 * self.options.twin_rate)
    }

    /// Person `i` (2 mod 4) carries the number of classmate `i + 1` (never a twin); a second
    /// twin (1 mod 4) may carry the first's ([`TWIN_BORROWS`]).
    fn misuses(&self, i: usize) -> Option<usize> {
        if i % 4 == 1 && self.twin_pair_starts_at(i - 1) {
            return self.rng(i, PURPOSE_MISUSE).chance(TWIN_BORROWS).then_some(i - 1);
        }
        let misuses = i % 4 == 2
            && i + 1 < self.options.students
            && self.province.class_of(i) == self.province.class_of(i + 1)
            && self.rng(i, PURPOSE_MISUSE).chance(4.0 * self.options.misuse_rate);
        misuses.then_some(i + 1)
    }

    /// Another class of `class`'s school and grade, next to it, if the grade has two.
    fn class_beside(&self, class: usize) -> Option<usize> {
        let classes = &self.province.classes;
        let alike =
            |c: &usize| classes[*c].school == classes[class].school && classes[*c].grade == classes[class].grade;
        [class + 1, class.wrapping_sub(1)].into_iter().filter(|&c| c < classes.len()).find(alike)
    }

    pub fn identity(&self, i: usize) -> Identity {
        let mut rng = self.rng(i, PURPOSE_IDENTITY);
        let male = rng.chance(0.51);
        if i % 4 == 1 && self.twin_pair_starts_at(i - 1) {
            let sibling = self.identity(i - 1);
            // Adjacent sequence numbers: +1 flips the parity (sex), +2 keeps it.
            let step = if male == sibling.male { 2 } else { 1 };
            let seq = if sibling.seq + step <= 999 { sibling.seq + step } else { sibling.seq - 4 + step };
            let apart = rng.chance(TWINS_APART).then(|| self.class_beside(sibling.class)).flatten();
            return Identity { male, seq, twin_of: Some(i - 1), class: apart.unwrap_or(sibling.class), ..sibling };
        }
        let class = self.province.class_of(i);
        let grade = i32::from(self.province.classes[class].grade);
        // Grade g is age g+5 on 1 September: born from 2 September g+6 years before, a few a year off.
        let earliest = Date { year: self.school_year.year - grade - 6, month: 9, day: 2 }.to_epoch_days();
        let off = match rng.unit() {
            x if x < 0.04 => -365,
            x if x < 0.05 => 365,
            _ => 0,
        };
        let birth = Date::from_epoch_days(earliest + rng.below(365) as i32 + off);
        let school_county = self.province.schools[self.province.classes[class].school].county;
        let county = if rng.chance(0.8) { school_county } else { *self.province.county_weights.draw(&mut rng) };
        let seq = if male { 2 * rng.below(500) as u16 + 1 } else { 2 * rng.below(499) as u16 + 2 };
        let twin_of = self.twin_pair_starts_at(i).then_some(i + 1);
        Identity { class, male, birth, county, seq, twin_of }
    }

    fn id_key(&self, identity: &Identity, seq: u16) -> u64 {
        ((identity.county as u64) << 40) | (((identity.birth.to_epoch_days() + 100_000) as u64) << 10) | u64::from(seq)
    }

    fn id_number(&self, identity: &Identity, seq: u16) -> String {
        with_check(&format!("{}{}{seq:03}", self.province.counties[identity.county].code, identity.birth.compact()))
    }

    /// New sequence numbers for the people whose ID number someone earlier already has, so that
    /// every person's number is their own (same parity: the sex stays).
    pub fn resolve_id_collisions(&self) -> HashMap<usize, u16> {
        let mut keys: Vec<(u64, usize)> = (0..self.options.students)
            .into_par_iter()
            .map(|i| {
                let identity = self.identity(i);
                (self.id_key(&identity, identity.seq), i)
            })
            .collect();
        keys.par_sort_unstable();
        let taken: Vec<u64> = keys.iter().map(|k| k.0).collect();
        let mut assigned: HashSet<u64> = HashSet::new();
        let mut overrides = HashMap::new();
        for pair in keys.windows(2) {
            if pair[0].0 != pair[1].0 {
                continue;
            }
            let i = pair[1].1;
            let identity = self.identity(i);
            let mut seq = identity.seq;
            loop {
                seq = if seq + 2 > 999 { seq % 2 + 2 } else { seq + 2 };
                let key = self.id_key(&identity, seq);
                if taken.binary_search(&key).is_err() && assigned.insert(key) {
                    break;
                }
            }
            overrides.insert(i, seq);
        }
        overrides
    }

    pub fn person(&self, index: usize, overrides: &HashMap<usize, u16>) -> Person {
        let identity = self.identity(index);
        let seq = overrides.get(&index).copied().unwrap_or(identity.seq);
        let id = self.id_number(&identity, seq);
        let family = identity.twin_of.map_or(index, |t| t.min(index));
        let mut family_rng = self.rng(family, PURPOSE_FAMILY);
        let mut rng = self.rng(index, PURPOSE_PERSON);
        let ethnicity = *self.ethnicities.draw(&mut family_rng);
        let transliterated = matches!(ethnicity, "05" | "17");
        let surname = if transliterated { "" } else { *POOLS.surnames.draw(&mut family_rng) };
        let guardian_male = family_rng.chance(0.7);
        let guardian_surname = if guardian_male { surname } else { *POOLS.surnames.draw(&mut family_rng) };
        let guardian_name = if transliterated {
            POOLS.minority_name(&mut family_rng)
        } else {
            format!(
                "{}{}",
                if guardian_surname.is_empty() { "王" } else { guardian_surname },
                POOLS.given_name(&mut family_rng)
            )
        };
        let guardian_phone = mobile_number(&mut family_rng);
        let guardian_birth = Date::from_epoch_days(
            identity.birth.to_epoch_days() - 365 * (24 + family_rng.below(14) as i32) - family_rng.below(365) as i32,
        );
        let given = if transliterated { POOLS.minority_name(&mut rng) } else { POOLS.given_name(&mut rng) };
        let name = match identity.twin_of {
            // The second twin's name echoes the first's.
            Some(first) if first < index && !transliterated => {
                let first_given = POOLS.given_name(&mut self.rng(first, PURPOSE_PERSON));
                format!("{surname}{}", POOLS.twin_name(&first_given, &mut rng))
            }
            // Transliterated names end in the father's name, which twins share.
            Some(first) if first < index => {
                POOLS.minority_twin_name(&POOLS.minority_name(&mut self.rng(first, PURPOSE_PERSON)), &mut rng)
            }
            _ => format!("{surname}{given}"),
        };
        // One child in fifty has a rare character, typed as its common substitute by most
        // schools ([`World::rare_character`]); a draw of its own keeps the rest as it was.
        let mut rare = self.rng(index, PURPOSE_RARE);
        let name = match name.chars().last() {
            Some(last) if !transliterated && name.chars().count() >= 2 && rare.chance(RARE_SHARE) => {
                let (_, common, _) = rare.pick(&RARE_CHARACTERS);
                format!("{}{common}", name.strip_suffix(last).unwrap_or(&name))
            }
            _ => name,
        };
        Person {
            index,
            identity,
            surname,
            name,
            ethnicity,
            id,
            guardian_name,
            guardian_phone,
            guardian_male,
            guardian_birth,
            twin_of: identity.twin_of,
            misuses: self.misuses(index),
        }
    }

    /// The person's registrations: the original (possibly carrying a classmate's number or an
    /// injected problem) and any duplicates at other schools.
    pub fn records(&self, person: &Person, overrides: &HashMap<usize, u16>) -> Vec<Record> {
        let mut records = Vec::with_capacity(1);
        let mut rng = self.rng(person.index, PURPOSE_PROBLEM);
        let mut original = self.draft(person, self.home, person.identity.class, Role::Original);
        if let Some(victim) = person.misuses {
            let victim = self.person(victim, overrides);
            if victim.name != person.name {
                original.role = Role::Misuse;
                original.values[col::ID] = victim.id.clone();
                original.facts.id = Some((victim.identity.birth, victim.identity.male));
            }
        } else if rng.chance(self.options.problem_rate) {
            let code = *rng.pick(&INJECTABLE);
            self.inject(&mut original, person, code, &mut rng);
        }
        let duplicates = if person.misuses.is_none()
            && self.rng(person.index, PURPOSE_DUPLICATE).chance(self.options.duplicate_rate)
        {
            1 + usize::from(self.rng(person.index, PURPOSE_DUPLICATE + 100).chance(0.2))
        } else {
            0
        };
        let original_style = self.style_of(self.home, person.identity.class);
        records.push(self.finish(original, person, 0));
        for k in 1..=duplicates {
            let mut rng = Rng::keyed(self.options.seed, (person.index * 4 + k) as u64, PURPOSE_DUPLICATE);
            let draft = self.duplicate(person, original_style, &mut rng);
            records.push(self.finish(draft, person, k));
        }
        self.rare_character(&mut records, person);
        records
    }

    /// A child whose name ends in a rare character's common substitute ([`RARE_CHARACTERS`]):
    /// its first school types the rare character; another school types the substitute, its
    /// description by parts, or an old system's Private Use Area code for it.
    fn rare_character(&self, records: &mut [Record], person: &Person) {
        let Some(&(rare, common, description)) =
            RARE_CHARACTERS.iter().find(|(_, common, _)| person.name.ends_with(*common))
        else {
            return;
        };
        let mut rng = self.rng(person.index, PURPOSE_RARE + 100);
        let true_name = format!("{}{rare}", person.name.strip_suffix(common).unwrap_or(&person.name));
        for (k, record) in records.iter_mut().enumerate() {
            record.true_name = true_name.clone();
            // Names typed otherwise (in pinyin, a homophone) keep what they are.
            let Some(stem) = record.values[col::NAME].strip_suffix(common).map(str::to_owned) else { continue };
            // Most schools type the substitute; one in five describes it, one in five has an old
            // system's code for it.
            let (text, kind, code) = match (k, rng.below(5)) {
                (0, _) => (rare.to_string(), "name:rare", None),
                (_, 0..=2) => continue,
                (_, 3) => (description.to_owned(), "name:rare_described", Some(Code::NameDescribedChar)),
                _ => {
                    let private = char::from_u32(0xE000 + rng.below(0x100) as u32).unwrap_or('\u{E000}');
                    (private.to_string(), "name:rare_private_use", Some(Code::NamePrivateUse))
                }
            };
            record.values[col::NAME] = format!("{stem}{text}");
            record.perturbations.push(kind);
            record.expected.extend(code);
            record.expected.sort();
            record.expected.dedup();
        }
    }

    fn style_of(&self, province: usize, class: usize) -> Style {
        let province = &self.provinces[province];
        province.schools[province.classes[class].school].style
    }

    /// The record as the school of `class` in `provinces[province]` types it, before any error.
    fn draft(&self, person: &Person, province: usize, class: usize, role: Role) -> Draft {
        let at = &self.provinces[province];
        let c = &at.classes[class];
        let school = &at.schools[c.school];
        let style = school.style;
        let county = &at.counties[school.county];
        let identity = &person.identity;
        let mut values: [String; COLUMNS.len()] = Default::default();
        values[col::NAME] = person.name.clone();
        values[col::SEX] = sex_text(identity.male, style).into();
        values[col::BIRTH] = date_text(identity.birth, style.date_format);
        values[col::DOC_TYPE] = (if style.document_type_as_code { "1" } else { "居民身份证" }).into();
        values[col::ID] = person.id.clone();
        values[col::ETHNICITY] = if style.ethnicity_as_code {
            person.ethnicity.into()
        } else {
            crate::normalize::codes::ethnicity_name(person.ethnicity).unwrap_or("").into()
        };
        values[col::SCHOOL_CODE] = school.code.clone();
        values[9] = school.name.clone();
        values[col::GRADE] = grade_text(c.grade, style);
        values[11] = match style.class_format {
            0 => format!("{}班", c.number),
            1 => c.number.to_string(),
            _ => format!("({})班", c.number),
        };
        values[12] = self.province.counties[identity.county].household_text.clone();
        values[13] = person.guardian_name.clone();
        values[14] = person.guardian_phone.clone();
        values[15] = if county.city.is_empty() { county.name.to_owned() } else { county.city.clone() };
        values[16] = county.name.into();
        Draft {
            values,
            role,
            province,
            class,
            facts: Facts {
                id: Some((identity.birth, identity.male)),
                birth: Some(identity.birth),
                male: Some(identity.male),
                grade: Some(c.grade),
            },
            perturbations: Vec::new(),
            expected: Vec::new(),
            injected: None,
        }
    }

    /// Types one data-quality problem into the original record.
    fn inject(&self, draft: &mut Draft, person: &Person, code: Code, rng: &mut Rng) {
        let identity = &person.identity;
        let id = person.id.clone();
        let v = &mut draft.values;
        let f = &mut draft.facts;
        match code {
            Code::IdChecksum => {
                let wrong = b"0123456789X"
                    .iter()
                    .map(|&b| char::from(b))
                    .filter(|&c| !id.ends_with(c))
                    .nth(rng.below(10))
                    .unwrap_or('0');
                v[col::ID] = format!("{}{wrong}", &id[..17]);
                f.id = None;
            }
            Code::IdDateInvalid => {
                v[col::ID] = with_check(&format!("{}32{}", &id[..12], &id[14..17]));
                f.id = None;
            }
            Code::IdFormat => {
                v[col::ID] = id[..17].to_owned();
                f.id = None;
            }
            Code::IdMissing => {
                v[col::ID].clear();
                f.id = None;
            }
            Code::IdRegionUnknown => v[col::ID] = with_check(&format!("19{}", &id[2..17])),
            Code::IdLegacy15 => {
                let seq = 2 * rng.below(499) as u16 + if person.guardian_male { 1 } else { 2 };
                v[col::ID] = format!("{}{}{seq:03}", &id[..6], &person.guardian_birth.compact()[2..]);
                f.id = Some((person.guardian_birth, person.guardian_male));
            }
            Code::IdSexMismatch => {
                let style = self.style_of(draft.province, draft.class);
                v[col::SEX] = sex_text(!identity.male, style).into();
                f.male = Some(!identity.male);
            }
            Code::IdBirthMismatch => {
                let days_in_month = crate::normalize::date::days_in_month(identity.birth.year, identity.birth.month);
                let day = if identity.birth.day > 5 {
                    identity.birth.day - 1 - rng.below(4) as u32
                } else {
                    (identity.birth.day + 1 + rng.below(4) as u32).min(days_in_month)
                };
                let shifted = Date { day, ..identity.birth };
                v[col::BIRTH] = date_text(shifted, self.style_of(draft.province, draft.class).date_format);
                f.birth = Some(shifted);
            }
            Code::BirthDateInvalid => {
                v[col::BIRTH] = format!("{}-02-30", identity.birth.year);
                f.birth = None;
            }
            Code::BirthDateMissing => {
                v[col::BIRTH].clear();
                f.birth = None;
            }
            Code::NameDigit => v[col::NAME].push('2'),
            Code::NameMissing => v[col::NAME].clear(),
            Code::NameWhitespace => v[col::NAME] = names::with_space(&person.name, rng),
            Code::SexInvalid => {
                v[col::SEX] = "3".into();
                f.male = None;
            }
            Code::SexMissing => {
                v[col::SEX].clear();
                f.male = None;
            }
            Code::EthnicityInvalid => v[col::ETHNICITY] = "汉人".into(),
            Code::SchoolCodeInvalid => {
                v[col::SCHOOL_CODE].pop();
            }
            Code::GradeInvalid => {
                v[col::GRADE] = "十三年级".into();
                f.grade = None;
            }
            Code::AgeGradeMismatch => {
                let grade = self.province.classes[draft.class].grade;
                let shifted = if grade + 4 <= 12 { grade + 4 } else { grade - 4 };
                v[col::GRADE] = grade_text(shifted, self.style_of(draft.province, draft.class));
                f.grade = Some(shifted);
            }
            Code::StudentNoInvalid => {}
            _ => unreachable!("{code} is not injectable"),
        }
        draft.injected = Some(code);
        draft.expected.push(code);
    }

    /// With several provinces, for `transfer_rate` of the duplicates: another province, where the
    /// person registers again. One province draws nothing, so its people stay as they were.
    fn other_province(&self, rng: &mut Rng) -> Option<usize> {
        let n = self.provinces.len();
        if n < 2 || !rng.chance(self.options.transfer_rate) {
            return None;
        }
        Some((self.home + 1 + rng.below(n - 1)) % n)
    }

    /// A class of `grade` anywhere in `provinces[province]` (of the nearest grade it has).
    fn class_in(&self, province: usize, grade: u8, rng: &mut Rng) -> usize {
        let by_grade = &self.provinces[province].classes_by_grade;
        let nearest = by_grade.keys().min_by_key(|&&g| (g.abs_diff(grade), g)).copied().unwrap_or(grade);
        *rng.pick(&by_grade[&nearest])
    }

    /// Another school's class in `grade`, usually in the same county (a transfer).
    fn transfer_class(&self, from: usize, grade: u8, rng: &mut Rng) -> usize {
        let school = self.province.classes[from].school;
        let county = self.province.schools[school].county;
        // A small population may have no class of a neighbouring grade: stay in the grade then.
        let grade =
            if self.province.classes_by_grade.contains_key(&grade) { grade } else { self.province.classes[from].grade };
        let anywhere = &self.province.classes_by_grade[&grade];
        let local = self.province.classes_by_grade_county.get(&(grade, county));
        for attempt in 0..8 {
            let pool = match local {
                Some(local) if attempt < 4 && rng.chance(0.7) => local,
                _ => anywhere,
            };
            let class = *rng.pick(pool);
            if self.province.classes[class].school != school {
                return class;
            }
        }
        *rng.pick(anywhere)
    }

    /// The record id, the student number from the number as written, and the expected
    /// cross-field problems.
    fn finish(&self, mut draft: Draft, person: &Person, k: usize) -> Record {
        self.excel_saved(&mut draft);
        let v = &mut draft.values;
        let index = self.offset + person.index;
        v[col::RECORD_ID] = record_id(index, k);
        // The national system holds the real number, whatever a spreadsheet did to the sheet's.
        let rounded = draft.perturbations.iter().any(|p| matches!(*p, "id:spreadsheet" | "file:excel_saved"));
        let (written, _) = if rounded {
            (person.id.clone(), Default::default())
        } else {
            crate::normalize::id_number::normalize_id_number(&v[col::ID]).unwrap_or_default()
        };
        let at = &self.provinces[draft.province];
        let school = &at.schools[at.classes[draft.class].school];
        v[col::STUDENT_NO] = if written.len() == 18 && written.is_ascii() {
            format!("G{written}")
        } else {
            let county = &at.counties[school.county].code;
            format!(
                "J{}",
                with_check(&format!("{county}{}{:03}", person.identity.birth.compact(), person.index % 1000))
            )
        };
        if draft.injected == Some(Code::StudentNoInvalid) {
            v[col::STUDENT_NO].pop();
        }
        let facts = &draft.facts;
        if let Some((id_birth, id_male)) = facts.id {
            if facts.birth.is_some_and(|b| b != id_birth) {
                draft.expected.push(Code::IdBirthMismatch);
            }
            if facts.male.is_some_and(|m| m != id_male) {
                draft.expected.push(Code::IdSexMismatch);
            }
        }
        if let (Some(grade), Some(born)) = (facts.grade, facts.birth.or(facts.id.map(|f| f.0))) {
            let deviation = born.age_on(self.school_year) - (i32::from(grade) + 5);
            if !AGE_SLACK.contains(&deviation) {
                draft.expected.push(Code::AgeGradeMismatch);
            }
        }
        if draft.injected == Some(Code::IdLegacy15) {
            draft.expected.push(Code::IdBirthMismatch);
        }
        draft.expected.sort();
        draft.expected.dedup();
        Record {
            values: draft.values,
            person: index,
            role: draft.role,
            twin_of: person.twin_of.map(|t| self.offset + t),
            perturbations: draft.perturbations,
            expected: draft.expected,
            injected: draft.injected,
            true_name: person.name.clone(),
            true_id: person.id.clone(),
            province: draft.province,
            class: draft.class,
        }
    }
}

impl World<'_> {
    /// A record of a school whose CSV Excel saved: an 18-digit number (one ending in X is text
    /// to Excel, and so is one typed with spaces) comes out rounded, and is no one's number:
    /// reported as such, never verified.
    fn excel_saved(&self, draft: &mut Draft) {
        let at = &self.provinces[draft.province];
        let Some(scientific) = at.schools[at.classes[draft.class].school].style.excel_saved else { return };
        let id = &draft.values[col::ID];
        if id.len() != 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        // A General column shows six significant digits: `2.11381E+17`. A number that ends in
        // 000 comes out whole, and its G-number says so.
        let shown = if scientific { excel_general(id) } else { spreadsheet_text(id, false) };
        if shown == *id {
            return;
        }
        draft.values[col::ID] = shown;
        draft.facts.id = None;
        // Nothing the number would have told is told.
        draft.expected.retain(|code| {
            code.kind().field != "id_number"
                && !matches!(
                    code,
                    Code::IdTypeMismatch | Code::StudentNoIdMismatch | Code::IdSexMismatch | Code::IdBirthMismatch
                )
        });
        draft.expected.push(Code::CellNumberPrecisionLost);
        draft.perturbations.push("file:excel_saved");
    }
}

/// An 18-digit number as a General cell of default width shows it: six significant digits.
fn excel_general(id: &str) -> String {
    let value: f64 = id.parse().unwrap_or(0.0);
    let text = format!("{value:.5E}");
    let (mantissa, exponent) = text.split_once('E').unwrap_or((&text, "17"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}E+{exponent}")
}

struct Draft {
    values: [String; COLUMNS.len()],
    role: Role,
    /// Where it is registered: the index of the province (of the generated ones) and its class.
    province: usize,
    class: usize,
    facts: Facts,
    perturbations: Vec<&'static str>,
    expected: Vec<Code>,
    injected: Option<Code>,
}

/// An 11-digit mobile number.
fn mobile_number(rng: &mut Rng) -> String {
    format!("1{}{:09}", [3, 5, 7, 8, 9][rng.below(5)], rng.next_u64() % 1_000_000_000)
}

/// An 18-digit number as it comes back from a spreadsheet that held it as a number: 15
/// significant digits, rounded, then zeros (`211221200903152000`) or in scientific notation
/// (`2.11221200903152E+17`).
fn spreadsheet_text(id: &str, scientific: bool) -> String {
    let kept: u64 = id[..15].parse().unwrap_or(0) + u64::from(id.as_bytes()[15] >= b'5');
    let digits = format!("{kept:015}");
    if scientific {
        let fraction = digits[1..].trim_end_matches('0');
        if fraction.is_empty() {
            format!("{}E+17", &digits[..1])
        } else {
            format!("{}.{fraction}E+17", &digits[..1])
        }
    } else {
        format!("{digits}000")
    }
}

/// What `check` finds in a typed resident number, and the birth date and sex it carries when
/// it passes: for numbers whose damage may or may not leave them valid.
fn typed_id_findings(typed: &str, as_of: Date) -> (Vec<Code>, Option<(Date, bool)>) {
    use crate::normalize::id_number::ResidentNumber;
    use crate::normalize::region::{region_status, RegionStatus};
    let Some(n) = ResidentNumber::parse(typed).filter(|_| shape(typed) == NumberShape::Resident) else {
        return (vec![Code::IdFormat], None);
    };
    let mut codes = Vec::new();
    let birth = n.birth.filter(|&b| b <= as_of);
    if birth.is_none() {
        codes.push(Code::IdDateInvalid);
    }
    if !n.checksum_ok(typed) {
        codes.push(Code::IdChecksum);
    }
    let Some(birth) = birth.filter(|_| codes.is_empty()) else { return (codes, None) };
    match region_status(n.region, birth.year) {
        RegionStatus::Valid => {}
        RegionStatus::OtherYears => codes.push(Code::IdRegionAnachronism),
        RegionStatus::Unknown => codes.push(Code::IdRegionUnknown),
    }
    (codes, Some((birth, n.male)))
}

/// 学籍辅号: unique, but in no order that gives duplicates away (a bijection of 0..10^10: an
/// affine map, its digits reversed).
fn record_id(person: usize, k: usize) -> String {
    const MODULUS: u128 = 10_000_000_000;
    let x = (person * 4 + k) as u128;
    let digits = format!("{:010}", (x * 7_777_777_777 + 1_234_567_891) % MODULUS);
    format!("F{}", digits.chars().rev().collect::<String>())
}

fn sex_text(male: bool, style: Style) -> &'static str {
    match (style.sex_as_code, male) {
        (true, true) => "1",
        (true, false) => "2",
        (false, true) => "男",
        (false, false) => "女",
    }
}

pub fn date_text(d: Date, format: usize) -> String {
    match format {
        0 => d.to_string(),
        1 => format!("{}/{}/{}", d.year, d.month, d.day),
        2 => d.compact(),
        3 => format!("{}.{}.{}", d.year, d.month, d.day),
        _ => format!("{}年{}月{}日", d.year, d.month, d.day),
    }
}

const CHINESE: [&str; 13] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"];

fn grade_text(grade: u8, style: Style) -> String {
    match (style.grade_as_number, grade) {
        (true, g) => g.to_string(),
        (false, g @ 7..=9) if style.class_format == 1 => format!("初{}", CHINESE[usize::from(g - 6)]),
        (false, g @ 10..=12) => format!("高{}", CHINESE[usize::from(g - 9)]),
        (false, g) => format!("{}年级", CHINESE[usize::from(g)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::codes::normalize_grade;
    use crate::normalize::date::parse_date;

    #[test]
    fn excel_shows_six_digits_in_a_general_cell() {
        assert_eq!(excel_general("211381200908232000"), "2.11381E+17");
        assert_eq!(excel_general("210000200908232000"), "2.1E+17");
        assert_eq!(excel_general("211381700908232000"), "2.11382E+17", "rounded, not cut");
    }

    #[test]
    fn record_ids_are_unique() {
        let ids: HashSet<String> = (0..100_000).flat_map(|p| (0..3).map(move |k| record_id(p, k))).collect();
        assert_eq!(ids.len(), 300_000);
    }

    #[test]
    fn texts_read_back() {
        let d = Date::new(2014, 3, 5).unwrap();
        for format in 0..DATE_FORMATS {
            assert_eq!(parse_date(&date_text(d, format)), Some(d));
        }
        for grade in 1..=12 {
            for (as_number, class_format) in [(true, 0), (false, 0), (false, 1)] {
                let style = Style {
                    sex_as_code: false,
                    date_format: 0,
                    ethnicity_as_code: false,
                    grade_as_number: as_number,
                    class_format,
                    document_type_as_code: false,
                    excel_saved: None,
                };
                assert_eq!(normalize_grade(&grade_text(grade, style)), Some(grade));
            }
        }
    }
}
