//! The compiled hot paths of kafka-logging. Each function here has a pure-Python twin that
//! gives the same result object for object, byte for byte (tests/unit/speedups prove it);
//! `kafka_logging.speedups` chooses which one runs.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

mod ecs;
mod json;

/// The lines of `data` (bytes that start at file offset `offset`), as LineFramer.feed gives
/// them outside long-line handling: `(lines, end)` where lines are
/// `(start, end, text, flags)` tuples and `end` is the offset just after the last "\n" (the
/// rest of `data` is the held partial line). A trailing "\r" is dropped; invalid UTF-8 is
/// decoded by Python's `errors` handler ("replace", "surrogateescape") and flagged
/// "invalid_utf8". None (nothing done)
/// when a line, or the unterminated rest, is longer than `limit` bytes: the caller's general
/// path handles long lines.
#[pyfunction]
#[pyo3(signature = (data, offset, limit, errors="replace"))]
fn frame_lines<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    offset: i64,
    limit: usize,
    errors: &str,
) -> PyResult<Option<(Bound<'py, PyList>, i64)>> {
    let bytes = data.as_bytes();
    let tail_start = match memchr_last(bytes) {
        Some(i) => i + 1,
        None => 0,
    };
    if bytes.len() - tail_start > limit {
        return Ok(None);
    }
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(bytes.len() / 64 + 1);
    let mut pos = 0;
    while pos < tail_start {
        let nl = pos + memchr(&bytes[pos..tail_start]).expect("a newline before tail_start");
        if nl - pos > limit {
            return Ok(None);
        }
        spans.push((pos, nl));
        pos = nl + 1;
    }
    let no_flags = PyTuple::empty(py);
    let out = PyList::empty(py);
    for (start, end) in spans {
        let mut raw = &bytes[start..end];
        if raw.last() == Some(&b'\r') {
            raw = &raw[..raw.len() - 1];
        }
        let (text, flags) = match std::str::from_utf8(raw) {
            Ok(text) => (PyString::new(py, text), no_flags.clone()),
            Err(_) => {
                let errors = std::ffi::CString::new(errors)?;
                let decoded = PyString::from_encoded_object(
                    PyBytes::new(py, raw).as_any(),
                    Some(c"utf-8"),
                    Some(&errors),
                )?;
                (decoded, PyTuple::new(py, ["invalid_utf8"])?)
            }
        };
        let line = PyTuple::new(
            py,
            [
                (offset + start as i64).into_pyobject(py)?.into_any(),
                (offset + end as i64 + 1).into_pyobject(py)?.into_any(),
                text.into_any(),
                flags.into_any(),
            ],
        )?;
        out.append(line)?;
    }
    Ok(Some((out, offset + tail_start as i64)))
}

/// The fixed parts of a file's records, cut around the per-line values (see
/// shipper.records.FileEncoder): value = head + json(text) + before_offset + offset
/// + before_eid + offset + after_eid; headers = [encoding, (eid_name, eid_prefix + offset)].
#[pyclass(frozen, module = "kafka_logging.speedups._native")]
struct Splicer {
    before_offset: Vec<u8>,
    before_eid: Vec<u8>,
    after_eid: Vec<u8>,
    eid_prefix: Vec<u8>,
    key: Py<PyAny>,
    encoding_header: Py<PyAny>,
    eid_name: Py<PyString>,
}

#[pymethods]
impl Splicer {
    #[new]
    fn new(
        before_offset: &[u8],
        before_eid: &[u8],
        after_eid: &[u8],
        eid_prefix: &[u8],
        key: Py<PyAny>,
        encoding_header: Py<PyAny>,
        eid_name: Py<PyString>,
    ) -> Self {
        Splicer {
            before_offset: before_offset.to_vec(),
            before_eid: before_eid.to_vec(),
            after_eid: after_eid.to_vec(),
            eid_prefix: eid_prefix.to_vec(),
            key,
            encoding_header,
            eid_name,
        }
    }

    /// The messages of `events` (Lines), in order, with `head` (the record's bytes up to
    /// its message: the timestamp is in it) in front of each. A line with flags, or whose
    /// text is not valid Unicode, is given to `slow(start, text, flags)` instead.
    fn batch<'py>(
        &self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
        head: &[u8],
        slow: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut value: Vec<u8> = Vec::with_capacity(1024);
        let mut digits = [0u8; 24];
        let key = self.key.bind(py);
        let encoding = self.encoding_header.bind(py);
        let eid_name = self.eid_name.bind(py);
        for event in events.try_iter()? {
            let event = event?;
            let (start, text, flags) = match event.cast::<PyTuple>() {
                Ok(line) => (line.get_item(0)?, line.get_item(2)?, line.get_item(3)?),
                Err(_) => (event.get_item(0)?, event.get_item(2)?, event.get_item(3)?),
            };
            if flags.is_truthy()? {
                out.append(slow.call1((start, text, flags))?)?;
                continue;
            }
            let utf8 = match text.cast::<PyString>()?.to_str() {
                Ok(s) => s,
                Err(_) => {
                    // Lone surrogates: not UTF-8, encode_json knows what to do.
                    out.append(slow.call1((start, text, flags))?)?;
                    continue;
                }
            };
            let offset: i64 = start.extract()?;
            let off = itoa(offset, &mut digits);
            value.clear();
            value.extend_from_slice(head);
            json::write_str(&mut value, utf8);
            value.extend_from_slice(&self.before_offset);
            value.extend_from_slice(off);
            value.extend_from_slice(&self.before_eid);
            value.extend_from_slice(off);
            value.extend_from_slice(&self.after_eid);
            let mut eid = Vec::with_capacity(self.eid_prefix.len() + off.len());
            eid.extend_from_slice(&self.eid_prefix);
            eid.extend_from_slice(off);
            let eid_header = PyTuple::new(
                py,
                [eid_name.as_any().clone(), PyBytes::new(py, &eid).into_any()],
            )?;
            let headers = PyList::new(py, [encoding.clone(), eid_header.into_any()])?;
            let message = PyTuple::new(
                py,
                [PyBytes::new(py, &value).into_any(), key.clone(), headers.into_any()],
            )?;
            out.append(message)?;
        }
        Ok(out)
    }
}

/// orjson.dumps(text) for a str: a JSON string, UTF-8, escaping only what JSON requires.
#[pyfunction]
fn json_string<'py>(py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(text.to_str()?.len() + 2);
    json::write_str(&mut out, text.to_str()?);
    Ok(PyBytes::new(py, &out))
}

fn itoa(value: i64, buf: &mut [u8; 24]) -> &[u8] {
    let negative = value < 0;
    let mut n = value.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', haystack)
}

fn memchr_last(haystack: &[u8]) -> Option<usize> {
    memchr::memrchr(b'\n', haystack)
}

/// What this build offers; kafka_logging/speedups/__init__.py ignores a module built from
/// other sources (a stale build left in a checkout) rather than call what it lacks.
const INTERFACE: u32 = 2;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("INTERFACE", INTERFACE)?;
    m.add_function(wrap_pyfunction!(frame_lines, m)?)?;
    m.add_function(wrap_pyfunction!(json_string, m)?)?;
    m.add_class::<Splicer>()?;
    m.add_class::<ecs::EcsEncoder>()?;
    Ok(())
}
