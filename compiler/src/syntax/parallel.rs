//! Parsing a large file's declarations on every core.
//!
//! Each declaration parses on its own ([`super::split`]), so a file's pieces
//! can be shared out to threads in contiguous runs and their trees put back
//! in order. What a parse reports must not depend on the thread count: the
//! first piece that fails, in file order, decides, exactly as in a parse one
//! piece after another, so each run stops at its own first failure and the
//! runs after the first failing one are not looked at.

use std::ops::Range;

/// Below this much text a file parses on the calling thread: a thread costs
/// tens of microseconds to start, a kilobyte of schema about as much to parse.
const PARALLEL_FROM_BYTES: usize = 64 * 1024;

/// Threads at most, whatever the machine: past a few, starting them and
/// merging their trees costs more than the parse they share.
const MAX_THREADS: usize = 8;

/// `parse` applied to each range in order, up to and including the first
/// that fails; on several threads when the text is large enough.
pub(super) fn parse_in_order<T: Send, E: Send>(
    ranges: &[Range<usize>],
    parse: impl Fn(Range<usize>) -> Result<T, E> + Sync,
) -> Vec<Result<T, E>> {
    let bytes = ranges.last().map_or(0, |last| last.end);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(bytes / PARALLEL_FROM_BYTES)
        .max(1);
    if threads == 1 {
        return until_failure(ranges, parse);
    }
    let runs = runs_of_equal_bytes(ranges, threads);
    let parse = &parse;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|run| scope.spawn(move || until_failure(run, parse)))
            .collect();
        let mut out = Vec::with_capacity(ranges.len());
        for handle in handles {
            // A parse does not panic on any input (the tests feed it every
            // kind of broken text); if one ever did, the caller's thread
            // fails the same way a parse on it would.
            let results = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let failed = results.last().is_some_and(Result::is_err);
            out.extend(results);
            if failed {
                break;
            }
        }
        out
    })
}

/// `parse` applied to each range in order on this thread, up to and
/// including the first that fails.
pub(super) fn until_failure<T, E>(
    ranges: &[Range<usize>],
    mut parse: impl FnMut(Range<usize>) -> Result<T, E>,
) -> Vec<Result<T, E>> {
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let result = parse(range.clone());
        let failed = result.is_err();
        out.push(result);
        if failed {
            break;
        }
    }
    out
}

/// Contiguous runs of ranges, `count` of them or fewer, each about the same
/// number of bytes.
fn runs_of_equal_bytes(ranges: &[Range<usize>], count: usize) -> Vec<&[Range<usize>]> {
    let bytes = ranges.last().map_or(0, |last| last.end);
    let per_run = bytes.div_ceil(count.max(1)).max(1);
    let mut runs = Vec::with_capacity(count);
    let mut start = 0;
    for (i, range) in ranges.iter().enumerate() {
        let run_bytes = range.end - ranges[start].start;
        if run_bytes >= per_run && runs.len() + 1 < count {
            runs.push(&ranges[start..=i]);
            start = i + 1;
        }
    }
    if start < ranges.len() {
        runs.push(&ranges[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(sizes: &[usize]) -> Vec<Range<usize>> {
        let mut start = 0;
        sizes
            .iter()
            .map(|size| {
                let range = start..start + size;
                start += size;
                range
            })
            .collect()
    }

    #[test]
    fn runs_cover_every_range_once_in_order() {
        let ranges = pieces(&[10, 10, 10, 10, 50, 5, 5, 5, 5]);
        for count in 1..=12 {
            let runs = runs_of_equal_bytes(&ranges, count);
            assert!(runs.len() <= count, "{count}: {runs:?}");
            assert_eq!(runs.concat(), ranges, "{count}");
            assert!(runs.iter().all(|run| !run.is_empty()), "{count}: {runs:?}");
        }
        assert_eq!(runs_of_equal_bytes(&[], 4), Vec::<&[Range<usize>]>::new());
    }

    #[test]
    fn the_first_failure_in_file_order_ends_the_results_on_any_thread_count() {
        // Large enough to be shared out: failures at pieces 700 and 900 of 1,000.
        let ranges = pieces(&vec![PARALLEL_FROM_BYTES / 100; 1_000]);
        let parse = |range: Range<usize>| {
            let index = range.start / (PARALLEL_FROM_BYTES / 100);
            if index == 700 || index == 900 {
                Err(index)
            } else {
                Ok(index)
            }
        };
        let results = parse_in_order(&ranges, parse);
        assert_eq!(results.len(), 701);
        assert_eq!(results.last(), Some(&Err(700)));
        assert!(results[..700].iter().enumerate().all(|(i, r)| r == &Ok(i)));
        assert_eq!(results, until_failure(&ranges, parse));
        let all = parse_in_order(&ranges, |range| Ok::<_, ()>(range.start));
        assert_eq!(all.len(), 1_000);
    }
}
