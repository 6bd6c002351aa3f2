//! LogRecord -> ECS JSON bytes for the handler, reading the record's attributes once.
//!
//! The twin of `EcsFormatter.build` + `wire.record.encode_json` (kafka_logging/handler/ecs.py)
//! for the records it knows: no `extra=` fields, no dict message, texts that are valid
//! Unicode, the usual attribute types. For any other record it returns None and the caller
//! takes the Python path (which gives the same bytes by construction). Rendering the message,
//! redaction, the error fields (traceback formatting) and the event id stay in Python: this
//! calls them, so there is one implementation of each.

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyIterator, PyString, PyTuple};

use crate::json::write_str;

#[pyclass(frozen, module = "kafka_logging.speedups._native")]
pub struct EcsEncoder {
    formatter: Py<PyAny>,
    render_message: Py<PyAny>,
    redact_text: Option<Py<PyAny>>,
    redact_defaults: bool,
    redactor: Py<PyAny>,
    ecs_host: Vec<u8>,
    service: Vec<u8>,
    plain: usize,
}

fn str_of<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    let text = value.cast_exact::<PyString>().ok()?;
    text.to_str().ok()
}

/// A JSON value of an attribute that is an exact str or None.
fn write_opt_str(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> Option<()> {
    if value.is_none() {
        out.extend_from_slice(b"null");
        return Some(());
    }
    write_str(out, str_of(value)?);
    Some(())
}

/// A JSON value of an attribute that is an exact int (64-bit) or None.
fn write_opt_int(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> Option<()> {
    if value.is_none() {
        out.extend_from_slice(b"null");
        return Some(());
    }
    value.cast_exact::<PyInt>().ok()?;
    if let Ok(n) = value.extract::<i64>() {
        out.extend_from_slice(n.to_string().as_bytes());
    } else {
        out.extend_from_slice(value.extract::<u64>().ok()?.to_string().as_bytes());
    }
    Some(())
}

/// Redactor.text's pre-check for its default patterns, for an ASCII text: none of their
/// keywords occurs (case-insensitive), so they cannot match. (Non-ASCII texts ask Python:
/// its lower() maps some non-ASCII letters to ASCII ones.)
fn no_default_keyword(text: &str) -> bool {
    if !text.is_ascii() {
        return false;
    }
    let low = text.to_ascii_lowercase();
    let low = low.as_bytes();
    !["pass", "secret", "token", "key", "auth"]
        .iter()
        .any(|word| memchr::memmem::find(low, word.as_bytes()).is_some())
}

/// "YYYY-MM-DDTHH:MM:SS" of a Unix second (time.gmtime + strftime), for years 1970..9999.
fn utc_text(second: i64, out: &mut Vec<u8>) {
    let days = second.div_euclid(86_400);
    let rem = second.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    out.extend_from_slice(
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            year,
            month,
            day,
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
        .as_bytes(),
    );
}

#[pymethods]
impl EcsEncoder {
    /// `formatter`: the EcsFormatter whose output this reproduces (its event-id state and
    /// error_fields are used); `redact_text`: its redactor's text() when it has patterns;
    /// `redact_defaults`: they are the default patterns (Redactor's own keyword pre-check
    /// then rules an ASCII text out here, without the call); `ecs_host`: the encoded `,"ecs":{..},"host":{..}` part;
    /// `service`: the encoded `,"service":{..}` part or b"".
    #[new]
    fn new(
        formatter: Py<PyAny>,
        render_message: Py<PyAny>,
        redact_text: Option<Py<PyAny>>,
        redact_defaults: bool,
        redactor: Py<PyAny>,
        ecs_host: &[u8],
        service: &[u8],
        plain: usize,
    ) -> Self {
        EcsEncoder {
            formatter,
            render_message,
            redact_text,
            redact_defaults,
            redactor,
            ecs_host: ecs_host.to_vec(),
            service: service.to_vec(),
            plain,
        }
    }

    /// (value, event id) of `record`, or None when the Python path must encode it.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, Bound<'py, PyString>)>> {
        let attrs = record.getattr(intern!(py, "__dict__"))?;
        let attrs = attrs.cast::<PyDict>()?;
        let get = |name: &Bound<'py, PyString>| -> PyResult<Bound<'py, PyAny>> {
            match attrs.get_item(name)? {
                Some(value) => Ok(value),
                None => Err(PyTypeError::new_err("unusual LogRecord")),
            }
        };
        let Ok(msg) = get(intern!(py, "msg")) else { return Ok(None) };
        if msg.is_instance_of::<PyDict>() {
            return Ok(None);
        }
        let rendered = attrs.get_item(intern!(py, "_kl_msg"))?;
        let span = attrs.get_item(intern!(py, "_kl_span"))?;
        let expected =
            self.plain + usize::from(rendered.is_some()) + usize::from(span.is_some());
        if attrs.len() > expected {
            return Ok(None); // extra= fields: the Python path merges them
        }
        let Some(out) = self.write(py, record, &get, rendered, span)? else { return Ok(None) };
        Ok(Some(out))
    }
}

type Getter<'a, 'py> = dyn Fn(&Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> + 'a;

impl EcsEncoder {
    fn write<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        get: &Getter<'_, 'py>,
        rendered: Option<Bound<'py, PyAny>>,
        span: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, Bound<'py, PyString>)>> {
        macro_rules! attr {
            ($name:literal) => {
                match get(intern!(py, $name)) {
                    Ok(value) => value,
                    Err(_) => return Ok(None),
                }
            };
        }
        macro_rules! want {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => return Ok(None),
                }
            };
        }
        let mut out: Vec<u8> = Vec::with_capacity(512);

        // message: rendered on the caller's thread, else now; redacted.
        let mut message = match rendered {
            Some(text) if text.is_exact_instance_of::<PyString>() => text,
            _ => self.render_message.bind(py).call1((record,))?,
        };
        if let Some(redact) = &self.redact_text {
            let clean = self.redact_defaults && str_of(&message).is_some_and(no_default_keyword);
            if !clean {
                message = redact.bind(py).call1((message,))?;
            }
        }

        // @timestamp
        let created = attr!("created");
        let created: f64 = want!(created.cast_exact::<PyFloat>().ok()).value();
        if !(0.0..253_402_300_800.0).contains(&created) {
            return Ok(None);
        }
        let second = created as i64;
        let micros = ((created - second as f64) * 1e6) as i64;
        out.extend_from_slice(b"{\"@timestamp\":\"");
        utc_text(second, &mut out);
        out.extend_from_slice(format!(".{micros:06}Z\"").as_bytes());

        // log
        let levelname = attr!("levelname");
        let level = want!(str_of(&levelname));
        if !level.is_ascii() {
            return Ok(None);
        }
        out.extend_from_slice(b",\"log\":{\"level\":");
        write_str(&mut out, &level.to_ascii_lowercase());
        out.extend_from_slice(b",\"logger\":");
        write_str(&mut out, want!(str_of(&attr!("name"))));
        out.extend_from_slice(b",\"origin\":{\"file\":{\"name\":");
        write_str(&mut out, want!(str_of(&attr!("filename"))));
        out.extend_from_slice(b",\"line\":");
        let lineno = attr!("lineno");
        want!(lineno.cast_exact::<PyInt>().ok());
        want!(write_opt_int(&mut out, &lineno));
        out.extend_from_slice(b"},\"function\":");
        want!(write_opt_str(&mut out, &attr!("funcName")));
        let stack_info = attr!("stack_info");
        if stack_info.is_truthy()? {
            out.extend_from_slice(b",\"stack_trace\":");
            write_str(&mut out, want!(str_of(&stack_info)));
        }

        // message, ecs, host
        out.extend_from_slice(b"}},\"message\":");
        write_str(&mut out, want!(str_of(&message)));
        out.extend_from_slice(&self.ecs_host);

        // error and trace/span first (into their own buffers): nothing may stop the fast
        // path once it took an event id.
        let mut tail: Vec<u8> = Vec::new();
        let exc_info = attr!("exc_info");
        if exc_info.is_truthy()? && !exc_info.get_item(0)?.is_none() {
            let error = self.formatter.bind(py).call_method1(
                intern!(py, "error_fields"),
                (record, &exc_info, self.redactor.bind(py)),
            )?;
            let error = want!(error.cast_exact::<PyDict>().ok());
            tail.extend_from_slice(b",\"error\":{");
            for (i, (key, value)) in error.iter().enumerate() {
                if i > 0 {
                    tail.push(b',');
                }
                write_str(&mut tail, want!(str_of(&key)));
                tail.push(b':');
                write_str(&mut tail, want!(str_of(&value)));
            }
            tail.push(b'}');
        }
        if let Some(span) = span {
            let span = want!(span.cast_exact::<PyTuple>().ok());
            if span.len() != 2 {
                return Ok(None);
            }
            let trace_id: u128 = want!(span.get_item(0)?.extract().ok());
            let span_id: u64 = want!(span.get_item(1)?.extract().ok());
            tail.extend_from_slice(
                format!(",\"trace\":{{\"id\":\"{trace_id:032x}\"}},\"span\":{{\"id\":\"{span_id:016x}\"}}")
                    .as_bytes(),
            );
        }

        // process
        let pid = attr!("process");
        let pid_value: Option<i64> = if pid.is_none() {
            None
        } else {
            want!(pid.cast_exact::<PyInt>().ok());
            Some(want!(pid.extract().ok()))
        };
        out.extend_from_slice(b",\"process\":{\"pid\":");
        want!(write_opt_int(&mut out, &pid));
        out.extend_from_slice(b",\"name\":");
        want!(write_opt_str(&mut out, &attr!("processName")));
        out.extend_from_slice(b",\"thread\":{\"id\":");
        want!(write_opt_int(&mut out, &attr!("thread")));
        out.extend_from_slice(b",\"name\":");
        want!(write_opt_str(&mut out, &attr!("threadName")));

        // event.id: the formatter's per-process prefix and counter
        let event_id = self.event_id(py, pid_value)?;
        out.extend_from_slice(b"}},\"event\":{\"id\":\"");
        out.extend_from_slice(event_id.as_bytes());
        out.extend_from_slice(b"\"}");
        out.extend_from_slice(&self.service);
        out.extend_from_slice(&tail);
        out.push(b'}');
        Ok(Some((PyBytes::new(py, &out), PyString::new(py, &event_id))))
    }

    /// EcsFormatter's event id: 64 random bits drawn per process, then a counter.
    fn event_id(&self, py: Python<'_>, pid: Option<i64>) -> PyResult<String> {
        let formatter = self.formatter.bind(py);
        let pid = pid.unwrap_or_else(|| i64::from(std::process::id()));
        let current: Option<i64> = formatter.getattr(intern!(py, "_pid"))?.extract()?;
        if current != Some(pid) {
            formatter.call_method1(intern!(py, "_new_id_prefix"), (pid,))?;
        }
        let base: u128 = formatter.getattr(intern!(py, "_id_base"))?.extract()?;
        let counter = formatter.getattr(intern!(py, "_id_counter"))?;
        let mut counter = counter.cast_into::<PyIterator>()?;
        let next: u128 = match counter.next() {
            Some(value) => value?.extract()?,
            None => return Err(PyTypeError::new_err("the event-id counter ended")),
        };
        Ok(format!("{:032x}", base + next))
    }
}
