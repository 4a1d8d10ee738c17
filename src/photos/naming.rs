//! Photo file names and folders as the collection rules lay them out: `<身份证号>.jpg` in folders
//! by 年级 and 班级, or `<学校标识码>_<班号>_<姓名>.jpg` for students without a number, all in one
//! separate folder per school.

use crate::normalize::codes::{normalize_class, normalize_grade, normalize_school_code};
use crate::normalize::date::Date;
use crate::normalize::id_number;
use crate::normalize::id_number::normalize_id_number;
use crate::normalize::name::normalize_name;

/// What a photo's file name says about whose photo it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoName {
    /// `<身份证号>.jpg`.
    Id {
        /// The number as records keep it (`normalize::id_number`).
        number: String,
        /// It passes GB 11643 (layout, date, check character).
        valid: bool,
        /// Typed otherwise than the rule: full-width digits, a lower-case `x`, spaces, 15
        /// digits, or an extension other than `.jpg`.
        nonstandard: bool,
    },
    /// `<学校标识码>_<班号>_<姓名>.jpg`, normalized like records: school code, class number, name.
    NoId { school: String, class: String, name: String, nonstandard: bool },
    /// Neither.
    Invalid,
}

impl PhotoName {
    /// The name read as the rule lays it out, as it is written.
    pub fn parse(file_name: &str, as_of: Date) -> PhotoName {
        let (stem, extension) = file_name.rsplit_once('.').unwrap_or((file_name, ""));
        PhotoName::parse_stem(stem, extension, as_of)
    }

    /// The name read without a copy's mark (see [`without_copy_mark`]), when it has one: the copy
    /// is a photo of the student the name without it points to.
    pub fn parse_copy(file_name: &str, as_of: Date) -> Option<PhotoName> {
        let (stem, extension) = file_name.rsplit_once('.').unwrap_or((file_name, ""));
        without_copy_mark(stem).map(|stem| PhotoName::parse_stem(stem, extension, as_of))
    }

    fn parse_stem(stem: &str, extension: &str, as_of: Date) -> PhotoName {
        let other_extension = extension != "jpg";
        let parts: Vec<&str> = stem.split(['_', '＿']).collect();
        if let [school, class, name] = parts.as_slice() {
            let school =
                normalize_school_code(school).filter(|s| s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()));
            let (name, _) = normalize_name(name);
            return match (school, normalize_class(class)) {
                (Some(school), Some(class)) if !name.is_empty() => {
                    PhotoName::NoId { school, class, name, nonstandard: other_extension }
                }
                _ => PhotoName::Invalid,
            };
        }
        let Some((number, cleaning)) = normalize_id_number(stem) else { return PhotoName::Invalid };
        if id_number::shape(&number) == id_number::NumberShape::Other {
            return PhotoName::Invalid;
        }
        let valid = id_number::is_valid(&number, as_of);
        PhotoName::Id {
            number,
            valid,
            nonstandard: other_extension || cleaning.reformatted || cleaning.upgraded_from_15,
        }
    }
}

/// The name without the mark Windows, WPS and phones add to a copy of a file: `(1)`, ` (2)`,
/// `（1）`, ` - 副本`, `_副本`, ` - 副本 (2)`, `_1`; `None` when it has none.
pub fn without_copy_mark(stem: &str) -> Option<&str> {
    let (mut rest, mut marked) = (stem, false);
    loop {
        let trimmed = rest.trim_end();
        let before = if let Some(inner) = trimmed.strip_suffix(')').or_else(|| trimmed.strip_suffix('）')) {
            inner
                .rsplit_once(['(', '（'])
                .filter(|(_, n)| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
                .map(|(base, _)| base)
        } else if let Some(base) = trimmed.strip_suffix("副本") {
            Some(base.trim_end().trim_end_matches(['-', '_', '－']).trim_end())
        } else {
            trimmed
                .rsplit_once('_')
                .filter(|(_, n)| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
                .map(|(base, _)| base)
        };
        match before.map(str::trim_end) {
            Some(base) if !base.is_empty() => (rest, marked) = (base, true),
            _ => break,
        }
    }
    marked.then_some(rest)
}

/// The grade (1–12) and class number a photo's folders say: the parent folder is the class
/// (`3班`, `(3)班`, `三年级3班`), the grade is the parent's prefix or the folder above it.
pub fn folder_grade_class(parent: Option<&str>, grandparent: Option<&str>) -> (Option<u8>, Option<String>) {
    let Some(parent) = parent else { return (None, None) };
    let class = normalize_class(parent);
    let own_grade = parent.find('级').and_then(|at| normalize_grade(&parent[..at + '级'.len_utf8()]));
    let grade = own_grade.or_else(|| grandparent.and_then(normalize_grade));
    (grade, class)
}

/// The file name the rule gives a photo: `<身份证号>.jpg`, or `<学校标识码>_<班号>_<姓名>.jpg`.
pub fn standard_name(id: Option<&str>, school: &str, class: &str, name: &str) -> String {
    match id {
        Some(id) => format!("{id}.jpg"),
        None => format!("{school}_{class}_{name}.jpg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date { year: 2026, month: 11, day: 29 };

    #[test]
    fn id_names_are_read_like_records_read_numbers() {
        let id = "11010519491231002X";
        assert_eq!(
            PhotoName::parse(&format!("{id}.jpg"), TODAY),
            PhotoName::Id { number: id.into(), valid: true, nonstandard: false }
        );
        // Lower-case x, full-width digits and another extension are read, and reported.
        for name in ["11010519491231002x.jpg", "１１０１０５１９４９１２３１００２Ｘ.jpg", "11010519491231002X.JPG"]
        {
            assert_eq!(
                PhotoName::parse(name, TODAY),
                PhotoName::Id { number: id.into(), valid: true, nonstandard: true },
                "{name}"
            );
        }
        // A wrong check character is still a number, and is not valid.
        assert_eq!(
            PhotoName::parse("110105194912310021.jpg", TODAY),
            PhotoName::Id { number: "110105194912310021".into(), valid: false, nonstandard: false }
        );
        for name in ["IMG_20240901.jpg", "张三.jpg", "photo.jpg", ".jpg", "1101052018.jpg"] {
            assert_eq!(PhotoName::parse(name, TODAY), PhotoName::Invalid, "{name}");
        }
    }

    #[test]
    fn no_id_names_carry_school_class_and_name() {
        assert_eq!(
            PhotoName::parse("2121000123_03_王 小明.jpg", TODAY),
            PhotoName::NoId {
                school: "2121000123".into(),
                class: "3".into(),
                name: "王小明".into(),
                nonstandard: false
            }
        );
        assert_eq!(
            PhotoName::parse("２１２１０００１２３＿3班_李娜.jpeg", TODAY),
            PhotoName::NoId {
                school: "2121000123".into(), class: "3".into(), name: "李娜".into(), nonstandard: true
            }
        );
        for name in ["212100012_3_李娜.jpg", "2121000123_甲_李娜.jpg", "2121000123_3_.jpg"] {
            assert_eq!(PhotoName::parse(name, TODAY), PhotoName::Invalid, "{name}");
        }
    }

    #[test]
    fn copies_are_read_as_the_photo_they_copy() {
        let id = "11010519491231002X";
        for copy in ["(1)", " (2)", "（1）", " - 副本", "_副本", " - 副本 (2)", "_1", " - 副本 - 副本"] {
            assert_eq!(without_copy_mark(&format!("{id}{copy}")), Some(id), "{copy:?}");
            assert_eq!(
                PhotoName::parse_copy(&format!("{id}{copy}.jpg"), TODAY),
                Some(PhotoName::Id { number: id.into(), valid: true, nonstandard: false }),
                "{copy:?}"
            );
            // As written, it is no number.
            assert_eq!(PhotoName::parse(&format!("{id}{copy}.jpg"), TODAY), PhotoName::Invalid, "{copy:?}");
        }
        assert_eq!(without_copy_mark("2121000123_3_李娜_1"), Some("2121000123_3_李娜"));
        assert_eq!(PhotoName::parse_copy(&format!("{id}.jpg"), TODAY), None);
        // Names without a mark, and marks with nothing before them, are left as they are.
        for name in [id, "2121000123_03_王小明", "(1)", "副本", "_1", "李娜(一)", "IMG_2024"] {
            assert_eq!(without_copy_mark(name), None, "{name:?}");
        }
    }

    #[test]
    fn folders_say_grade_and_class() {
        assert_eq!(folder_grade_class(Some("3班"), Some("三年级")), (Some(3), Some("3".into())));
        assert_eq!(folder_grade_class(Some("(2)班"), Some("初一")), (Some(7), Some("2".into())));
        assert_eq!(folder_grade_class(Some("三年级3班"), Some("照片")), (Some(3), Some("3".into())));
        assert_eq!(folder_grade_class(Some("照片"), None), (None, None));
        assert_eq!(folder_grade_class(None, None), (None, None));
    }

    #[test]
    fn standard_names() {
        assert_eq!(standard_name(Some("11010519491231002X"), "", "", ""), "11010519491231002X.jpg");
        assert_eq!(standard_name(None, "2121000123", "3", "李娜"), "2121000123_3_李娜.jpg");
    }
}
