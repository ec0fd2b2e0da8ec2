//! Window results and alerts to topics, as JSON keyed by window start, for other consumers.
//!
//! An [`Output`] of the runtime: at-least-once like the JSON-lines files (what came after
//! the last checkpoint is sent again after a crash, with the same key and revision, so a
//! consumer keeping the highest revision per key sees each window once).

use std::time::Duration;

use hitstream_runtime::{BoxError, Output};
use hitstream_window::{Alert, WindowResult};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::client::Connection;

/// Sends window results to one topic and alerts to another (either may be left out).
#[allow(missing_debug_implementations)] // librdkafka's producer has no Debug
pub struct KafkaOutput {
    name: String,
    producer: BaseProducer,
    results: Option<String>,
    alerts: Option<String>,
}

impl KafkaOutput {
    /// A producer on `conn` for the given topics.
    pub fn new(
        conn: &Connection,
        results: Option<String>,
        alerts: Option<String>,
    ) -> Result<KafkaOutput, KafkaError> {
        let producer: BaseProducer = conn
            .client_config(&[
                ("enable.idempotence", "true".into()),
                ("acks", "all".into()),
                ("linger.ms", "20".into()),
                ("message.timeout.ms", "0".into()),
            ])
            .create()?;
        let topics: Vec<&str> = results
            .iter()
            .chain(alerts.iter())
            .map(String::as_str)
            .collect();
        Ok(KafkaOutput {
            name: format!("kafka {}", topics.join(", ")),
            producer,
            results,
            alerts,
        })
    }

    fn send(&mut self, topic: &str, key: &str, json: &[u8]) -> Result<(), BoxError> {
        let mut rec = BaseRecord::<str, [u8]>::to(topic).key(key).payload(json);
        loop {
            match self.producer.send(rec) {
                Ok(()) => {
                    self.producer.poll(Duration::ZERO);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(Box::new(e)),
            }
        }
    }
}

impl Output for KafkaOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn window(&mut self, w: &WindowResult) -> Result<(), BoxError> {
        if let Some(t) = self.results.clone() {
            let json = serde_json::to_vec(w)?;
            self.send(&t, &w.window_start_rfc3339, &json)?;
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> Result<(), BoxError> {
        if let Some(t) = self.alerts.clone() {
            let json = serde_json::to_vec(a)?;
            self.send(&t, &a.window_start_rfc3339, &json)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        // Waits as long as the broker needs: the checkpoint after this says they are out.
        self.producer.flush(rdkafka::util::Timeout::Never)?;
        Ok(())
    }
}
