//! [`Browser`]: a signed-in clerk's browser for the HTML pages — the session cookie on every
//! request, forms posted urlencoded with the session's CSRF token, redirects not followed.

use crate::web::{Clerk, TestApp};

/// A page answer: status, `Location` and body.
#[derive(Debug)]
pub struct Page {
    /// Status code.
    pub status: u16,
    /// The `Location` header (empty when absent).
    pub location: String,
    /// The body.
    pub text: String,
    /// Every header of the answer.
    pub headers: reqwest::header::HeaderMap,
}

/// A browser-like client for one signed-in clerk: the session cookie on every request,
/// forms posted as `application/x-www-form-urlencoded`, redirects not followed.
#[derive(Debug)]
pub struct Browser {
    base: String,
    session: String,
    csrf: String,
    client: reqwest::Client,
}

impl Browser {
    /// The browser of a signed-in clerk.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn of(app: &TestApp, clerk: &Clerk) -> anyhow::Result<Browser> {
        Ok(Browser {
            base: app.base.clone(),
            session: clerk.session.clone(),
            csrf: clerk.csrf.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    async fn read(response: reqwest::Response) -> anyhow::Result<Page> {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let headers = response.headers().clone();
        Ok(Page {
            status,
            location,
            headers,
            text: response.text().await?,
        })
    }

    /// `GET` a page.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn get(&self, path: &str) -> anyhow::Result<Page> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("lianban_session={}", self.session))
            .send()
            .await?;
        Browser::read(response).await
    }

    /// Posts a form; the session's CSRF token is added unless `csrf` is false.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: bool,
    ) -> anyhow::Result<Page> {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if csrf {
            form.push(("csrf", &self.csrf));
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("lianban_session={}", self.session))
            .form(&form)
            .send()
            .await?;
        Browser::read(response).await
    }
}
