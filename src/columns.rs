//! Row access to the columns of a records table for the passes that read several columns per
//! row, and the parallel driver they share: row chunks in Polars' own thread pool.

use std::ops::Range;

use polars::prelude::*;
use polars_core::runtime::THREAD_POOL;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Rows handed to one task: large enough to amortise scheduling, small enough to balance cores.
pub const CHUNK_ROWS: usize = 1 << 15;

type TextArray = <StringType as PolarsDataType>::Array;
type IntArray = <Int32Type as PolarsDataType>::Array;
type CodeArray = <UInt32Type as PolarsDataType>::Array;

fn single<'a, A>(name: &str, mut arrays: impl Iterator<Item = &'a A>, chunks: usize) -> Result<Option<&'a A>> {
    if chunks > 1 {
        return Err(Error::Internal(format!("column {name} has {chunks} chunks; rechunk the table first")));
    }
    Ok(arrays.next())
}

/// A text column of a rechunked table, plain or [`repeated`].
#[derive(Clone, Copy)]
pub struct Text<'a>(Option<TextRepr<'a>>);

#[derive(Clone, Copy)]
enum TextRepr<'a> {
    Plain(&'a TextArray),
    Coded(&'a CodeArray, &'a CategoricalMapping),
}

impl<'a> Text<'a> {
    /// A column the table must have. Its absence is xueji's own failure (a stage run before the
    /// one that adds the column, a name mistyped), never read as "no data".
    pub fn of(df: &'a DataFrame, name: &str) -> Result<Text<'a>> {
        Text::read(df.column(name).map_err(|_| missing(df, name))?, name)
    }

    /// A field of a file read (a [`crate::schema`] field) that the file may lack — a sheet
    /// without 监护人 or 班级, a police reply without 姓名: all null then. Only such fields are
    /// read so: a column a stage adds is never optional.
    pub fn optional(df: &'a DataFrame, name: &str) -> Result<Text<'a>> {
        if !crate::schema::FIELDS.iter().any(|f| f.name == name) {
            return Err(Error::Internal(format!("{name} is no field of a file read: read it with Text::of")));
        }
        match df.column(name) {
            Ok(column) => Text::read(column, name),
            Err(_) => Ok(Text(None)),
        }
    }

    fn read(column: &'a Column, name: &str) -> Result<Text<'a>> {
        if let DataType::Categorical(..) = column.dtype() {
            let ca = column.cat32()?;
            let codes = single(name, ca.physical().downcast_iter(), ca.physical().chunks().len())?;
            return Ok(Text(codes.map(|codes| TextRepr::Coded(codes, ca.get_mapping().as_ref()))));
        }
        let ca = column.str()?;
        Ok(Text(single(name, ca.downcast_iter(), ca.chunks().len())?.map(TextRepr::Plain)))
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self.0? {
            TextRepr::Plain(values) => values.get(i),
            TextRepr::Coded(codes, mapping) => mapping.cat_to_str(codes.get(i)?),
        }
    }

    /// The category of row `i` in a [`repeated`] column (`None` in a plain one, or a null): rows
    /// of one category hold one value, so what is computed from it can be computed once.
    pub fn category(&self, i: usize) -> Option<u32> {
        match self.0? {
            TextRepr::Plain(_) => None,
            TextRepr::Coded(codes, _) => codes.get(i),
        }
    }
}

/// The text columns of a records table that take a few values each: the originals as read,
/// their normalized forms, the locality `check` derives and the place of the school. A birth
/// date as typed is one of a few thousand days of the school years, in a few spellings (25,642
/// values over 10M records).
pub const REPEATED: [&str; 21] = [
    "source_file",
    "sex",
    "birth_date",
    "id_type",
    "ethnicity",
    "school_code",
    "school_name",
    "grade",
    "class",
    "household_address",
    "city",
    "county",
    "sex_norm",
    "id_type_norm",
    "ethnicity_norm",
    "school_code_norm",
    "class_norm",
    "locality_city",
    "locality_county",
    "place_city",
    "place_county",
];

/// Text columns that repeat a few values on every row (school, class, region, the source file)
/// stored as categoricals: 4 bytes a row instead of a 16-byte string view, which at 10M records
/// is 120 MB a column. Absent and already coded columns are skipped; [`Text`] reads both forms.
pub fn repeated(df: &mut DataFrame) -> Result<()> {
    let coded = DataType::from_categories(Categories::global());
    // Also recodes categoricals of other categories (a Parquet file's) into the global ones.
    let plain: Vec<&Column> =
        REPEATED.iter().filter_map(|name| df.column(name).ok()).filter(|c| c.dtype() != &coded).collect();
    let encoded =
        THREAD_POOL.install(|| plain.into_par_iter().map(|c| c.cast(&coded)).collect::<PolarsResult<Vec<_>>>())?;
    for column in encoded {
        df.with_column(column)?;
    }
    Ok(())
}

/// An Int32 (or Date, as days) column of a rechunked table.
#[derive(Clone, Copy)]
pub struct Ints<'a>(Option<&'a IntArray>);

impl<'a> Ints<'a> {
    /// A column the table must have, as [`Text::of`].
    pub fn of(df: &'a DataFrame, name: &str) -> Result<Ints<'a>> {
        let column = df.column(name).map_err(|_| missing(df, name))?;
        let ca: &Int32Chunked = match column.dtype() {
            DataType::Date => column.date()?.physical(),
            _ => column.i32()?,
        };
        Ok(Ints(single(name, ca.downcast_iter(), ca.chunks().len())?))
    }

    pub fn get(&self, i: usize) -> Option<i32> {
        self.0.and_then(|a| a.get(i))
    }
}

/// A column a stage needs is not in its table.
fn missing(df: &DataFrame, name: &str) -> Error {
    let present: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    Error::Internal(format!("the table has no column {name} (it has {})", present.join(", ")))
}

/// Runs `f` on every chunk of `0..height` in parallel; results in row order. An empty table is
/// one empty chunk, so that columns built from the pieces exist with no rows.
/// Each finished chunk advances the current stage's progress (rows done of `height`).
pub fn par_row_chunks<R: Send>(height: usize, f: impl Fn(Range<usize>) -> R + Sync) -> Vec<R> {
    let starts: Vec<usize> = if height == 0 { vec![0] } else { (0..height).step_by(CHUNK_ROWS).collect() };
    let done = std::sync::atomic::AtomicUsize::new(0);
    THREAD_POOL.install(|| {
        starts
            .into_par_iter()
            .map(|start| {
                let rows = start..(start + CHUNK_ROWS).min(height);
                let size = rows.len();
                let result = f(rows);
                let now = done.fetch_add(size, std::sync::atomic::Ordering::Relaxed) + size;
                crate::progress::advance(now as u64, height as u64);
                result
            })
            .collect()
    })
}

/// The rows holding a value more than once, grouped by value: each group in row order, the
/// groups in the order of their first rows. Nulls, and rows `keep` refuses, join none. Rows are
/// sorted by a hash of their value, not entered in a table of every value: 16 bytes a row, where
/// a hash table of a province's ID numbers held a gigabyte at 10M records.
pub fn repeated_values(values: Text, height: usize, keep: impl Fn(usize) -> bool + Sync) -> Vec<Vec<usize>> {
    let hash = |text: &str| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        text.hash(&mut hasher);
        hasher.finish()
    };
    let pieces = par_row_chunks(height, |rows| {
        rows.filter(|&i| keep(i)).filter_map(|i| Some((hash(values.get(i)?), i as u32))).collect::<Vec<_>>()
    });
    let mut hashed: Vec<(u64, u32)> = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    for piece in pieces {
        hashed.extend(piece);
    }
    THREAD_POOL.install(|| hashed.par_sort_unstable());
    let mut groups = Vec::new();
    for run in hashed.chunk_by(|a, b| a.0 == b.0).filter(|run| run.len() > 1) {
        // One hash is one value but for a collision: a run is split by value.
        let mut rows: Vec<usize> = run.iter().map(|&(_, i)| i as usize).collect();
        while let Some(&first) = rows.first() {
            let value = values.get(first);
            let (same, rest): (Vec<usize>, Vec<usize>) = rows.into_iter().partition(|&i| values.get(i) == value);
            if same.len() > 1 {
                groups.push(same);
            }
            rows = rest;
        }
    }
    groups.sort_unstable_by_key(|group| group[0]);
    groups
}

/// A [`repeated`] column made straight from its values, never held as text first.
pub fn coded<'a>(name: &str, values: impl IntoIterator<Item = Option<&'a str>>) -> Result<Series> {
    let dtype = DataType::from_categories(Categories::global());
    Ok(Categorical32Chunked::from_str_iter(name.into(), dtype, values)?.into_series())
}

/// One column from per-chunk pieces, as a single chunk (so that [`Text::of`] can read it). A
/// [`REPEATED`] column is coded a piece at a time, in order: never held whole as text (five
/// normalized codes held as text until normalizing ended made it a 10M run's peak: 4.13 GiB,
/// 3.34 coded as they join).
pub fn concat<C: IntoSeries>(name: &str, pieces: Vec<C>) -> Result<Column> {
    let coded = DataType::from_categories(Categories::global());
    let code = |piece: Series| {
        if REPEATED.contains(&name) && piece.dtype() == &DataType::String {
            piece.cast(&coded)
        } else {
            Ok(piece)
        }
    };
    let mut pieces = pieces.into_iter().map(|piece| code(piece.into_series()));
    let Some(mut out) = pieces.next().transpose()? else {
        return Err(Error::Internal(format!("column {name} has no pieces")));
    };
    for piece in pieces {
        out.append_owned(piece?)?;
    }
    Ok(out.rechunk().with_name(name.into()).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DataFrame {
        df!(
            "school_name" => [Some("太平区第1小学"), None, Some("太平区第1小学"), Some("细河区第2中学")],
            "name" => [Some("李娜"), Some("王 芳"), None, Some("=1+1")],
        )
        .unwrap()
    }

    #[test]
    fn repeated_values_group_the_rows_of_a_value() {
        let ids = ["1101", "", "2202", "1101", "3303", "2202", "1101", "x"];
        let column =
            StringChunked::from_iter_options("id".into(), ids.iter().map(|v| Some(*v).filter(|v| !v.is_empty())));
        let df = DataFrame::new(ids.len(), vec![column.into_column()]).unwrap();
        let ids = Text::of(&df, "id").unwrap();
        assert_eq!(repeated_values(ids, 8, |_| true), vec![vec![0, 3, 6], vec![2, 5]]);
        assert_eq!(repeated_values(ids, 8, |i| i != 2), vec![vec![0, 3, 6]], "a refused row joins none");
        // Many rows of a chunk and across chunks, in row order whatever the hash order.
        let many: Vec<String> = (0..3 * CHUNK_ROWS).map(|i| format!("{}", i % 5)).collect();
        let df = DataFrame::new(many.len(), vec![Column::new("id".into(), &many)]).unwrap();
        let groups = repeated_values(Text::of(&df, "id").unwrap(), many.len(), |_| true);
        assert_eq!(groups.len(), 5);
        for (k, group) in groups.iter().enumerate() {
            assert!(group.iter().enumerate().all(|(j, &i)| i == k + 5 * j), "group {k} in row order");
        }
    }

    #[test]
    fn repeated_columns_read_the_same_values_coded() {
        let plain = table();
        let mut coded = plain.clone();
        repeated(&mut coded).unwrap();
        assert!(coded.column("school_name").unwrap().dtype().is_categorical());
        assert_eq!(coded.column("name").unwrap().dtype(), &DataType::String, "names are not repeated text");
        for name in ["school_name", "name", "class"] {
            let (a, b) = (Text::optional(&plain, name).unwrap(), Text::optional(&coded, name).unwrap());
            let values: Vec<_> = (0..4).map(|i| b.get(i)).collect();
            assert_eq!((0..4).map(|i| a.get(i)).collect::<Vec<_>>(), values, "{name}");
        }
        assert_eq!(Text::of(&coded, "school_name").unwrap().get(1), None, "a null stays null");
        assert_eq!(Text::optional(&coded, "class").unwrap().get(0), None, "an absent optional field reads as null");
        let absent = Text::of(&coded, "class_norm").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(absent.contains("no column class_norm (it has school_name, name)"), "{absent}");
        assert!(Ints::of(&coded, "grade_norm").is_err(), "a column a stage needs is never read as no data");
        assert!(Text::optional(&coded, "class_norm").is_err() && Text::optional(&coded, "class_nrom").is_err());
    }

    #[test]
    fn a_repeated_column_is_coded_as_its_pieces_join() {
        let pieces = || {
            vec![
                StringChunked::from_iter_options("".into(), [Some("男"), None, Some("女")].into_iter()),
                StringChunked::from_iter_options("".into(), [Some("女"), Some("男")].into_iter()),
            ]
        };
        let mut coded = DataFrame::new(5, vec![concat("sex_norm", pieces()).unwrap()]).unwrap();
        let plain =
            DataFrame::new(5, vec![concat("name_norm", pieces()).unwrap().with_name("sex_norm".into())]).unwrap();
        assert!(coded.column("sex_norm").unwrap().dtype().is_categorical(), "coded as it is made");
        assert_eq!(plain.column("sex_norm").unwrap().dtype(), &DataType::String, "names are not repeated text");
        let (a, b) = (Text::of(&coded, "sex_norm").unwrap(), Text::of(&plain, "sex_norm").unwrap());
        assert_eq!((0..5).map(|i| a.get(i)).collect::<Vec<_>>(), (0..5).map(|i| b.get(i)).collect::<Vec<_>>());
        assert_eq!(coded.column("sex_norm").unwrap().n_chunks(), 1, "one chunk, as Text reads");
        let before = coded.column("sex_norm").unwrap().clone();
        repeated(&mut coded).unwrap();
        assert!(coded.column("sex_norm").unwrap().equals_missing(&before), "coding again changes nothing");
    }

    #[test]
    fn categoricals_of_other_categories_are_recoded_so_tables_stack() {
        let mut ours = table();
        repeated(&mut ours).unwrap();
        // As a Parquet file written elsewhere may come back: its own categories.
        let theirs_dtype = DataType::from_categories(Categories::random("test".into(), CategoricalPhysical::U32));
        let mut theirs = table();
        let cast = theirs.column("school_name").unwrap().cast(&theirs_dtype).unwrap();
        theirs.with_column(cast).unwrap();
        assert!(ours.vstack(&theirs).is_err(), "tables coded apart do not stack");
        repeated(&mut theirs).unwrap();
        let mut stacked = ours.vstack(&theirs).unwrap();
        stacked.rechunk_mut_par();
        let schools = Text::of(&stacked, "school_name").unwrap();
        assert_eq!((schools.get(3), schools.get(7)), (Some("细河区第2中学"), Some("细河区第2中学")));
    }
}
