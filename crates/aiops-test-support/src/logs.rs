//! A buffer that log output can be written to (e.g. a `tracing_subscriber` writer), so a
//! test can search everything that was logged for values that must never appear.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{DefaultFields, Format};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

/// Shared bytes written as logs; clones write to the same buffer.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// A subscriber builder that logs everything (TRACE and up, no colours) here: `.finish()`
    /// for a scoped subscriber, `.try_init()` for the process-wide one.
    pub fn trace_subscriber(
        &self,
    ) -> SubscriberBuilder<DefaultFields, Format, LevelFilter, LogBuffer> {
        tracing_subscriber::fmt()
            .with_max_level(LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer lock")).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("log buffer lock")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_buffer() {
        let logs = LogBuffer::default();
        let mut writer = logs.clone();
        writeln!(writer, "line one").unwrap();
        write!(writer.clone(), "line two").unwrap();
        assert_eq!(logs.text(), "line one\nline two");
    }
}
