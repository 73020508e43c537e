//! A delay in front of the SDK's mock HTTP client, for timing behaviour (concurrency, deadlines)
//! in tests and benchmarks. The mock rules still come from `aws-smithy-mocks`; this only waits
//! (on tokio time, which tests can pause) before handing the request on.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Delays every request before handing it to the mock HTTP client (tokio time: paused in tests).
#[derive(Debug, Clone)]
pub struct Delayed {
    pub inner: SharedHttpClient,
    pub delay: Duration,
}

impl HttpClient for Delayed {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(DelayedConnector {
            inner: self.inner.http_connector(settings, components),
            delay: self.delay,
        })
    }
}

#[derive(Debug)]
struct DelayedConnector {
    inner: SharedHttpConnector,
    delay: Duration,
}

impl HttpConnector for DelayedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, delay) = (self.inner.clone(), self.delay);
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(delay).await;
            inner.call(request).await
        })
    }
}
