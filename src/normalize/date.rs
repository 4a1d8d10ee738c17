//! Calendar dates as schools type them: ISO, slashes, dots, `20140305`, `2014年3月5日`, date-times
//! and Excel serial numbers.

use std::fmt;

/// A proleptic Gregorian calendar date that is known to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// Days from 1970-01-01 back to Excel's day 0 (1899-12-30, which absorbs Lotus' 1900 leap bug).
const EXCEL_EPOCH_OFFSET: i64 = 25_569;

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// The date, if it exists in the calendar (no 2月30日, no 1949-02-29).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (Polars' `Date` representation); H. Hinnant's `days_from_civil`.
    pub fn to_epoch_days(self) -> i32 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) as i32
    }

    /// Inverse of [`Date::to_epoch_days`].
    pub fn from_epoch_days(days: i32) -> Date {
        let z = i64::from(days) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The date of an Excel serial day number (1900 date system), fraction (time of day) ignored.
    pub fn from_excel_serial(serial: f64) -> Option<Date> {
        if !(1.0..3_000_000.0).contains(&serial) {
            return None;
        }
        Some(Date::from_epoch_days((serial.floor() as i64 - EXCEL_EPOCH_OFFSET) as i32))
    }

    /// Whole years of age on `on`.
    pub fn age_on(self, on: Date) -> i32 {
        on.year - self.year - i32::from((on.month, on.day) < (self.month, self.day))
    }

    /// `YYYYMMDD` as in an ID number.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// Serialized as `YYYY-MM-DD`.
impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Excel serials are accepted only where they land in this range (serial 18264 and up), so that a
/// stray number such as a class number is not read as a date.
const SERIAL_YEARS: std::ops::RangeInclusive<i32> = 1950..=2100;

/// Parses a birth date or other full date in any of the forms schools use.
/// Returns `None` for anything that is not one real calendar date.
pub fn parse_date(raw: &str) -> Option<Date> {
    let text = fold_digits(raw.trim());
    let text = text.as_ref();
    if text.is_empty() {
        return None;
    }
    // A time of day after the date (`2014-03-05 00:00:00`, `2014-03-05T08:00`) is dropped.
    let date_part = text.split([' ', 'T']).next().unwrap_or(text);
    if let Some(date) = parse_ymd_fields(date_part) {
        return Some(date);
    }
    if date_part.len() == 8 && date_part.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (&date_part[0..4], &date_part[4..6], &date_part[6..8]);
        return Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    }
    parse_excel_serial(text)
}

/// Parses a year and month (入学年月): `2014-09`, `2014/9`, `201409`, `2014年9月`, or any full date.
pub fn parse_year_month(raw: &str) -> Option<(i32, u32)> {
    if let Some(date) = parse_date(raw) {
        return Some((date.year, date.month));
    }
    let text = fold_digits(raw.trim());
    let text = text.trim_end_matches('月').replace('年', "-");
    let fields: Vec<&str> = text.split(['-', '/', '.']).collect();
    // Only ASCII digits are sliced by byte: `不详` is six bytes too.
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (y, m) = match fields.as_slice() {
        [y, m] if y.len() == 4 && digits(y) && digits(m) => (*y, *m),
        [ym] if ym.len() == 6 && digits(ym) => (&ym[0..4], &ym[4..6]),
        _ => return None,
    };
    let year: i32 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    (1..=12).contains(&month).then_some((year, month))
}

/// `y-m-d`, `y/m/d`, `y.m.d` and `y年m月d日` with a four-digit year.
fn parse_ymd_fields(text: &str) -> Option<Date> {
    let text = text.strip_suffix('日').unwrap_or(text);
    let mut fields = text.split(['-', '/', '.', '年', '月']);
    let (y, m, d) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || y.len() != 4 || !(1..=2).contains(&m.len()) || !(1..=2).contains(&d.len()) {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn parse_excel_serial(text: &str) -> Option<Date> {
    let serial: f64 = text.parse().ok()?;
    let date = Date::from_excel_serial(serial)?;
    SERIAL_YEARS.contains(&date.year).then_some(date)
}

/// Full-width digits and punctuation (`２０１４／３／５`) to ASCII; other text unchanged.
fn fold_digits(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '－' => '-',
            '／' => '/',
            '．' => '.',
            '　' => ' ',
            _ => c,
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::new(y, m, day).unwrap()
    }

    #[test]
    fn every_format_in_domain_md_parses_to_the_same_day() {
        for raw in [
            "2014-03-05",
            "2014/3/5",
            "20140305",
            "2014.3.5",
            "2014年3月5日",
            "41703",
            "41703.0",
            "2014-03-05 00:00:00",
            "2014-03-05T08:30:00",
            "２０１４－０３－０５",
            " 2014/03/05 ",
        ] {
            assert_eq!(parse_date(raw), Some(d(2014, 3, 5)), "{raw}");
        }
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for raw in
            ["1949-02-29", "2014-13-01", "2014-02-30", "20140231", "2014/0/5", "", "abc", "12", "2014-3", "14-03-05"]
        {
            assert_eq!(parse_date(raw), None, "{raw}");
        }
        assert_eq!(parse_date("2000-02-29"), Some(d(2000, 2, 29)));
        assert_eq!(parse_date("1900-02-29"), None);
    }

    #[test]
    fn epoch_days_round_trip() {
        assert_eq!(d(1970, 1, 1).to_epoch_days(), 0);
        assert_eq!(d(2000, 3, 1).to_epoch_days(), 11_017);
        assert_eq!(d(1899, 12, 30).to_epoch_days(), -25_569);
        for days in (-40_000..60_000).step_by(17) {
            assert_eq!(Date::from_epoch_days(days).to_epoch_days(), days);
        }
    }

    #[test]
    fn excel_serials() {
        assert_eq!(Date::from_excel_serial(61.0), Some(d(1900, 3, 1)));
        assert_eq!(Date::from_excel_serial(45_000.75), Some(d(2023, 3, 15)));
        assert_eq!(parse_date("0"), None);
        assert_eq!(parse_date("18000"), None, "1949: below the accepted serial range");
    }

    #[test]
    fn year_months() {
        for raw in ["2014-09", "2014/9", "201409", "2014年9月", "2014-09-01", "2014.9"] {
            assert_eq!(parse_year_month(raw), Some((2014, 9)), "{raw}");
        }
        assert_eq!(parse_year_month("2014-13"), None);
        assert_eq!(parse_year_month("九月"), None);
        for unknown in ["不详", "待查", "未知年月", "2014-+9", "+2014"] {
            assert_eq!(parse_year_month(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn age_counts_whole_years() {
        let born = d(2014, 9, 2);
        assert_eq!(born.age_on(d(2020, 9, 1)), 5);
        assert_eq!(born.age_on(d(2020, 9, 2)), 6);
        assert_eq!(d(2012, 2, 29).age_on(d(2013, 2, 28)), 0);
    }
}
