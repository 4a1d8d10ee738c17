//! Blocking settings: the rules, each a list of key parts, as `--settings` gives them.

use serde::{Deserialize, Serialize};

/// What a blocking key is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    /// The normalized ID number.
    Id,
    /// The ID number with one position deleted (one key per position).
    IdOneDigit,
    /// The first 15 digits of an ID number as a spreadsheet keeps them; pairs only where one
    /// record's number came back from a spreadsheet damaged (`211221200903152000`).
    IdSpreadsheet,
    /// Birth date and sequence of an ID number (positions 7–17): the number with its region set
    /// aside, for a mistyped region.
    IdDateSequence,
    /// The normalized name.
    Name,
    /// Toneless pinyin of the name, letters only (homophones and names typed in pinyin share it).
    NamePinyin,
    /// First letters of the name's pinyin syllables (`zhang zi xuan` → `zzx`).
    NameInitials,
    /// The first letter of the name's pinyin (`z` for 张子轩 and for `Zhang Zixuan`).
    NameFirstLetter,
    /// The pinyin of a name of three or more characters without its last one (`he jun` for
    /// 何俊𠮷, 何俊吉 and 何俊 with a private code): a rare last character typed three ways.
    NameStem,
    Surname,
    BirthDate,
    BirthYear,
    BirthYearMonth,
    /// Month and day in either order, any year: a date typed a year off or with day and month
    /// swapped keeps it.
    BirthDayMonth,
    Sex,
    GuardianPhone,
    /// The record's city and county (`locality_*`: the sheet's 所属地市/所属区县, else the ID's region).
    County,
    /// The household register (户口所在地) as typed: one child's registrations share it.
    Household,
    SchoolCode,
    /// Present only on records without a document number.
    NoId,
}

impl KeyPart {
    /// The part as people read it (report.html).
    pub fn label_zh(self) -> &'static str {
        match self {
            KeyPart::Id => "身份证号",
            KeyPart::IdOneDigit => "身份证号（差一位）",
            KeyPart::IdSpreadsheet => "被表格截断的身份证号",
            KeyPart::IdDateSequence => "证件号的出生日期和顺序码",
            KeyPart::Name => "姓名",
            KeyPart::NamePinyin => "姓名拼音",
            KeyPart::NameInitials => "姓名拼音首字母",
            KeyPart::NameFirstLetter => "姓名拼音第一个字母",
            KeyPart::NameStem => "姓名去掉末字的拼音",
            KeyPart::Surname => "姓",
            KeyPart::BirthDate => "出生日期",
            KeyPart::BirthYear => "出生年",
            KeyPart::BirthYearMonth => "出生年月",
            KeyPart::BirthDayMonth => "出生月日",
            KeyPart::Sex => "性别",
            KeyPart::GuardianPhone => "监护人电话",
            KeyPart::County => "区县",
            KeyPart::Household => "户口所在地",
            KeyPart::SchoolCode => "学校标识码",
            KeyPart::NoId => "无证件号",
        }
    }

    /// Key passes of a rule with this part: rounded and cut digits for `IdSpreadsheet`.
    pub(super) fn passes(self) -> usize {
        match self {
            KeyPart::IdSpreadsheet => 2,
            _ => 1,
        }
    }
}

/// A field a rule is there to do without: its pairs must include a record lacking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lacking {
    /// No name (`name_norm` empty).
    Name,
    /// No birth date, typed or in a valid number.
    BirthDate,
}

impl Lacking {
    pub fn label_zh(self) -> &'static str {
        match self {
            Lacking::Name => "缺姓名",
            Lacking::BirthDate => "缺出生日期",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub keys: Vec<KeyPart>,
    /// Pairs only where a record lacks this as well as a number of its own: a key that does not
    /// grow more selective with the province (a county, a birth date) pairs every popular name
    /// with every record lacking a number, so a rule for records without a name or a birth date
    /// pairs just those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lacking: Option<Lacking>,
}

impl Rule {
    /// The rule as people read it: its key parts joined (`姓名拼音 + 出生年月`).
    pub fn label_zh(&self) -> String {
        let keys = self.keys.iter().map(|k| k.label_zh()).collect::<Vec<_>>().join(" + ");
        match self.lacking {
            Some(lacking) => format!("{keys}（{}）", lacking.label_zh()),
            None => keys,
        }
    }

    pub(super) fn passes(&self) -> usize {
        self.keys.iter().map(|k| k.passes()).max().unwrap_or(1)
    }

    /// Whether the rule keys on the ID number. A rule that does not pairs two records only when
    /// one of them lacks a number of its own (`compare::own_numbers`): two different own numbers
    /// are two people whatever else agrees, so such pairs would only be compared to be set
    /// apart. This keeps name and birth-date rules small at province scale, where popular names
    /// make their blocks large.
    pub(super) fn keys_on_number(&self) -> bool {
        self.keys
            .iter()
            .any(|k| matches!(k, KeyPart::Id | KeyPart::IdOneDigit | KeyPart::IdSpreadsheet | KeyPart::IdDateSequence))
    }
}

/// The most rules a run can have: a candidate pair records its rules as bits of a `u64`.
pub const MAX_RULES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockingSettings {
    pub rules: Vec<Rule>,
    /// Blocks that would make more pairs than a block of this many records (n(n-1)/2) are
    /// skipped and reported, never allowed to explode memory.
    pub max_block_size: usize,
    /// A rule not keyed on the number pairs each record lacking one with at most this many
    /// records of a block: those agreeing with it on the most of birth date, birth month, sex,
    /// guardian's phone, school, household register, name and county. Blocks keyed on a name
    /// and a birth month grow with the province; this keeps the pairs growing with the
    /// records. Rules keyed on the number make every pair of their blocks: the u of the number
    /// levels is counted among them (`score::u_probabilities`).
    pub nearest: usize,
}

impl Default for BlockingSettings {
    /// Rules for Chinese student data: each kind of error a duplicate carries is caught by a rule
    /// that does not depend on the field it damaged.
    fn default() -> Self {
        let rule = |name: &str, keys: &[KeyPart]| Rule { name: name.into(), keys: keys.to_vec(), lacking: None };
        let lacking = |lacks: Lacking, rule: Rule| Rule { lacking: Some(lacks), ..rule };
        use KeyPart::*;
        BlockingSettings {
            rules: vec![
                rule("id", &[Id]),
                rule("id_one_digit", &[IdOneDigit]),
                rule("id_spreadsheet", &[IdSpreadsheet]),
                // The name's initials or the guardian's phone keeps same-day same-sequence
                // numbers of other counties apart: there are 13M such pairs at 10M, and u of
                // `region_only` is counted from the numbers, not from this rule's pairs.
                rule("id_date_sequence", &[IdDateSequence, NameInitials]),
                rule("id_date_sequence_phone", &[IdDateSequence, GuardianPhone]),
                // A blank name and a new guardian leave the household register to tell them.
                rule("id_date_sequence_household", &[IdDateSequence, Household]),
                rule("pinyin_birth_month", &[NamePinyin, BirthYearMonth]),
                rule("pinyin_birth_day_month", &[NamePinyin, BirthDayMonth]),
                // No number and no birth date: the name and the household register.
                lacking(Lacking::BirthDate, rule("pinyin_household", &[NamePinyin, Household])),
                rule("initials_birth_sex", &[NameInitials, BirthDate, Sex]),
                // Birth year and sex keep county blocks small in populous counties.
                rule("initials_county_birth_year_sex", &[NameInitials, County, BirthYear, Sex]),
                rule("guardian_phone", &[GuardianPhone]),
                // No number and a rare last character, typed, substituted or unreadable.
                rule("stem_birth", &[NameStem, BirthDate]),
                // No number and a blank name: the child's household register, birth date and sex.
                lacking(Lacking::Name, rule("household_birth_sex", &[Household, BirthDate, Sex])),
                rule("no_id_name_sex_birth", &[NoId, Name, Sex, BirthDate]),
            ],
            max_block_size: 500,
            nearest: 10,
        }
    }
}

impl BlockingSettings {
    /// How many records of a block a probe of `rule` is paired with at most ([`Self::nearest`]):
    /// `None`, every one, for a rule keyed on the number.
    pub fn nearest_of(&self, rule: &Rule) -> Option<usize> {
        (!rule.keys_on_number()).then_some(self.nearest)
    }

    /// The rule mask (bit i = rule i) of the rules keyed on the ID number.
    pub fn number_rules(&self) -> u64 {
        self.rules.iter().enumerate().filter(|(_, r)| r.keys_on_number()).map(|(i, _)| 1u64 << i).sum()
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.rules.is_empty() {
            return Err("blocking needs at least one rule".into());
        }
        if self.rules.len() > MAX_RULES {
            return Err(format!("{} blocking rules; at most {MAX_RULES}", self.rules.len()));
        }
        if let Some(rule) = self.rules.iter().find(|r| r.keys.is_empty()) {
            return Err(format!("blocking rule {:?} has no keys", rule.name));
        }
        let mut names: Vec<&str> = self.rules.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two blocking rules are named {:?}", twice[0]));
        }
        if let Some(rule) = self.rules.iter().find(|r| r.lacking.is_some() && r.keys_on_number()) {
            return Err(format!(
                "blocking rule {:?} keys on the number: it cannot be for records lacking a field",
                rule.name
            ));
        }
        if self.nearest < 1 {
            return Err("nearest must be at least 1".into());
        }
        if self.max_block_size < 2 {
            return Err(format!("max_block_size must be at least 2, it is {}", self.max_block_size));
        }
        Ok(())
    }
}
