//! The second registration of a person: another school, and the typing errors a second clerk
//! makes in each field. Every draw is in a fixed order, so a seed gives the same province.

use super::*;

impl World<'_> {
    /// A second registration of the person at another school, with its own typing errors.
    pub(super) fn duplicate(&self, person: &Person, original_style: Style, rng: &mut Rng) -> Draft {
        let identity = &person.identity;
        let grade = self.province.classes[identity.class].grade;
        let target_grade = match rng.unit() {
            x if x < 0.075 && grade > 1 => grade - 1,
            x if x < 0.15 && grade < 12 => grade + 1,
            _ => grade,
        };
        let (province, class) = match self.other_province(rng) {
            Some(other) => (other, self.class_in(other, target_grade, rng)),
            None => (self.home, self.transfer_class(identity.class, target_grade, rng)),
        };
        let mut draft = self.draft(person, province, class, Role::Duplicate);
        let style = self.style_of(province, class);
        if province != self.home {
            draft.perturbations.push("province:transfer");
        }
        if self.provinces[province].classes[class].grade != grade {
            draft.perturbations.push("grade:shift");
        }
        if style.sex_as_code != original_style.sex_as_code {
            draft.perturbations.push("sex:coded");
        }
        let id_kind = self.retype_id(person, style, &mut draft, rng);
        retype_name(person, id_kind, &mut draft, rng);
        retype_birth(person.identity.birth, style, original_style, &mut draft, rng);
        change_guardian(&mut draft, rng);
        draft
    }

    /// The number as the second clerk typed it (or left it out), with what check must say of
    /// it; returns the kind of error, for the name's draw.
    fn retype_id(&self, person: &Person, style: Style, draft: &mut Draft, rng: &mut Rng) -> &'static str {
        let id = person.id.clone();

        let id_kind = match rng.unit() {
            x if x < 0.34 => "id:identical",
            x if x < 0.44 => "id:typo",
            x if x < 0.52 => "id:transposition",
            x if x < 0.62 => "id:missing",
            x if x < 0.67 => "id:region",
            x if x < 0.74 => "id:spreadsheet",
            x if x < 0.79 => "id:lower_x",
            x if x < 0.86 => "id:fullwidth",
            x if x < 0.93 => "id:spaces",
            _ => "id:hyphens",
        };
        let id_kind = match id_kind {
            "id:lower_x" if !id.ends_with('X') => "id:identical",
            // A number ending in X is text in a spreadsheet: it keeps every digit.
            "id:spreadsheet" if id.ends_with('X') => "id:identical",
            kind => kind,
        };
        match id_kind {
            "id:typo" => {
                let bytes = id.as_bytes();
                let at = rng.below(18);
                let choices: Vec<u8> = b"0123456789X"
                    .iter()
                    .copied()
                    .filter(|&b| b != bytes[at] && (at == 17 || b != b'X') && (at > 0 || b != b'9'))
                    .collect();
                let mut typo = bytes.to_vec();
                typo[at] = *rng.pick(&choices);
                draft.values[col::ID] = String::from_utf8(typo).unwrap_or_default();
            }
            "id:transposition" => {
                let bytes = id.as_bytes();
                let swappable: Vec<usize> = (0..17).filter(|&i| bytes[i] != bytes[i + 1]).collect();
                let at = *rng.pick(&swappable);
                let mut swapped = bytes.to_vec();
                swapped.swap(at, at + 1);
                draft.values[col::ID] = String::from_utf8(swapped).unwrap_or_default();
            }
            "id:missing" => {
                draft.values[col::ID].clear();
                draft.values[col::DOC_TYPE] = (if style.document_type_as_code { "Z" } else { "无" }).into();
                draft.expected.push(Code::NoDocument);
            }
            "id:region" => {
                // Another county of the province, or a code in no table; the check recomputed
                // (a clerk who retypes a number with a calculator gets a valid one).
                let other = self.province.counties[rng.below(self.province.counties.len())].code.clone();
                let region = if other != id[..6] && rng.chance(0.5) { other } else { format!("19{}", &id[2..6]) };
                draft.values[col::ID] = with_check(&format!("{region}{}", &id[6..17]));
            }
            "id:spreadsheet" => draft.values[col::ID] = spreadsheet_text(&id, rng.chance(0.5)),
            "id:lower_x" => draft.values[col::ID] = id.to_ascii_lowercase(),
            "id:fullwidth" => {
                draft.values[col::ID] = id.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect()
            }
            "id:spaces" => draft.values[col::ID] = format!("{} {} {}", &id[..6], &id[6..14], &id[14..]),
            "id:hyphens" => draft.values[col::ID] = format!("{}-{}-{}", &id[..6], &id[6..14], &id[14..]),
            _ => {}
        }
        match id_kind {
            "id:typo" | "id:transposition" => {
                // MOD 11-2 catches every such error; a check X moved inward breaks the layout instead.
                let typed = &draft.values[col::ID];
                if shape(typed) == NumberShape::Other {
                    draft.expected.push(Code::IdFormat);
                } else {
                    draft.expected.push(Code::IdChecksum);
                    let digits = &typed[6..14];
                    let real = Date::new(
                        digits[..4].parse().unwrap_or(0),
                        digits[4..6].parse().unwrap_or(0),
                        digits[6..].parse().unwrap_or(0),
                    )
                    .is_some_and(|d| d <= self.options.as_of);
                    if !real {
                        draft.expected.push(Code::IdDateInvalid);
                    }
                }
                draft.facts.id = None;
            }
            "id:missing" => draft.facts.id = None,
            // Rounded by a spreadsheet: no one's number, reported as such and never verified
            // (a province's file always shows the pattern: many such numbers, half in E+ form).
            "id:spreadsheet" => {
                draft.expected.push(Code::CellNumberPrecisionLost);
                draft.facts.id = None;
            }
            "id:region" => {
                let (codes, facts) = typed_id_findings(&draft.values[col::ID], self.options.as_of);
                draft.expected.extend(codes);
                draft.facts.id = facts;
            }
            "id:lower_x" | "id:fullwidth" | "id:spaces" | "id:hyphens" => draft.expected.push(Code::IdReformatted),
            _ => {}
        }
        draft.perturbations.push(id_kind);
        id_kind
    }
}

/// The name as the second clerk typed it: a homophone, traditional characters, a space, pinyin …
/// A registration never loses both name and number (`id_kind` is the number's error).
fn retype_name(person: &Person, id_kind: &str, draft: &mut Draft, rng: &mut Rng) {
    let transliterated = person.name.contains('·');
    let name_kind = match rng.unit() {
        x if x < 0.44 => "name:identical",
        x if x < 0.64 => "name:homophone",
        x if x < 0.71 => "name:traditional",
        x if x < 0.78 => "name:space",
        x if x < 0.82 => "name:dot",
        x if x < 0.89 => "name:pinyin",
        x if x < 0.95 => "name:digit",
        _ => "name:missing",
    };
    // A registration with neither name nor number belongs to nobody that any method could
    // find: the name stays when the number is gone.
    let name_kind = if name_kind == "name:missing" && id_kind == "id:missing" { "name:identical" } else { name_kind };
    let changed = match name_kind {
        "name:homophone" => POOLS.homophone(&person.name, person.surname, rng),
        "name:traditional" => POOLS.traditional(&person.name),
        "name:space" => Some(names::with_space(&person.name, rng)),
        "name:pinyin" if !transliterated => Some(names::typed_in_pinyin(&person.name, person.surname)),
        "name:digit" => Some(format!("{}{}", person.name, 1 + rng.below(9))),
        "name:missing" => Some(String::new()),
        "name:dot" if transliterated => {
            let dot = *rng.pick(&names::DOT_VARIANTS);
            if dot != '\u{0387}' {
                draft.expected.push(Code::NameDotVariant);
            }
            Some(person.name.replace('·', &dot.to_string()))
        }
        _ => None,
    };
    match changed {
        Some(name) => {
            draft.values[col::NAME] = name;
            draft.perturbations.push(name_kind);
            match name_kind {
                "name:traditional" => draft.expected.push(Code::NameTraditional),
                "name:space" => draft.expected.push(Code::NameWhitespace),
                "name:pinyin" => draft.expected.extend([Code::NameLatin, Code::NameWhitespace]),
                "name:digit" => draft.expected.push(Code::NameDigit),
                "name:missing" => draft.expected.push(Code::NameMissing),
                _ => {}
            }
        }
        None => draft.perturbations.push("name:identical"),
    }
}

/// The birth date as recorded the second time: a day off, day and month swapped, a year off,
/// left out, or only written another way.
fn retype_birth(birth: Date, style: Style, original_style: Style, draft: &mut Draft, rng: &mut Rng) {
    let birth_kind = match rng.unit() {
        x if x < 0.10 => "birth:day_off",
        x if x < 0.18 && birth.day <= 12 && birth.day != birth.month => "birth:day_month_swap",
        x if x < 0.23 && !(birth.month == 2 && birth.day == 29) => "birth:year_off",
        x if x < 0.27 => "birth:missing",
        _ if style.date_format != original_style.date_format => "birth:format",
        _ => "birth:identical",
    };
    let recorded = match birth_kind {
        "birth:day_off" => Some(Date::from_epoch_days(birth.to_epoch_days() + if rng.chance(0.5) { 1 } else { -1 })),
        "birth:day_month_swap" => Some(Date { month: birth.day, day: birth.month, ..birth }),
        "birth:year_off" => Some(Date { year: birth.year + if rng.chance(0.5) { 1 } else { -1 }, ..birth }),
        "birth:missing" => None,
        _ => Some(birth),
    };
    draft.values[col::BIRTH] = recorded.map(|d| date_text(d, style.date_format)).unwrap_or_default();
    if recorded.is_none() {
        draft.expected.push(Code::BirthDateMissing);
    }
    draft.facts.birth = recorded;
    draft.perturbations.push(birth_kind);
}

/// The guardian of the second registration: the other parent, or a new phone.
fn change_guardian(draft: &mut Draft, rng: &mut Rng) {
    // The other parent registers the child, or the family has a new phone.
    let guardian_kind = match rng.unit() {
        x if x < 0.08 => "guardian:other_parent",
        x if x < 0.16 => "guardian:phone_changed",
        _ => "guardian:identical",
    };
    match guardian_kind {
        "guardian:other_parent" => {
            draft.values[13] = format!("{}{}", POOLS.surnames.draw(rng), POOLS.given_name(rng));
            draft.values[14] = mobile_number(rng);
        }
        "guardian:phone_changed" => draft.values[14] = mobile_number(rng),
        _ => {}
    }
    draft.perturbations.push(guardian_kind);
}
