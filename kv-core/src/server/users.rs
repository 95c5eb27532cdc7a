//! [`User`]: a user of the development server, with its publish and subscribe permissions, and
//! how it is written into the server's `authorization` block.

use super::node::quote;

/// A user the development server accepts, with the subjects it may publish and subscribe to.
///
/// A server started with one or more users ([`NatsServerBuilder::user`](super::NatsServerBuilder::user))
/// accepts only them: connect with their name and password (`ConnectOptions::user_and_password`;
/// async-nats ignores credentials written in the URL). A user with no rules may do
/// everything. `allow_*` rules make a list of the only subjects allowed; `deny_*` rules take
/// subjects out, and win over the allow list. Subjects may use the `*` and `>` wildcards.
///
/// Remember what Key/Value needs: a write publishes to `$KV.<bucket>.<key>`, a read and every
/// bucket call publish to `$JS.API.>`, and every answer comes to the connection's inbox, which
/// it must be allowed to subscribe to (`_INBOX.>` by default).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use natskv::server::{NatsServer, User};
///
/// // `reader` can read every bucket, and write none of `orders`' keys.
/// let reader = User::new("reader", "s3cret").deny_publish("$KV.orders.>");
/// let server = NatsServer::builder()
///     .user(User::new("admin", "s3cret"))
///     .user(reader.clone())
///     .start()
///     .await?;
/// let nats = natskv::async_nats::ConnectOptions::new()
///     .user_and_password(reader.name().into(), reader.password().into())
///     .connect(server.url())
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    name: String,
    password: String,
    publish: Rules,
    subscribe: Rules,
}

/// One direction's allow and deny lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rules {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl User {
    /// A user named `name` with `password`, allowed everything until rules say otherwise.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            password: password.into(),
            publish: Rules::default(),
            subscribe: Rules::default(),
        }
    }

    /// The user's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The user's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Allows publishing to `subject`; once one subject is allowed, only allowed ones are.
    #[must_use]
    pub fn allow_publish(mut self, subject: impl Into<String>) -> Self {
        self.publish.allow.push(subject.into());
        self
    }

    /// Denies publishing to `subject`, even when an allow rule covers it.
    #[must_use]
    pub fn deny_publish(mut self, subject: impl Into<String>) -> Self {
        self.publish.deny.push(subject.into());
        self
    }

    /// Allows subscribing to `subject`; once one subject is allowed, only allowed ones are.
    #[must_use]
    pub fn allow_subscribe(mut self, subject: impl Into<String>) -> Self {
        self.subscribe.allow.push(subject.into());
        self
    }

    /// Denies subscribing to `subject`, even when an allow rule covers it.
    #[must_use]
    pub fn deny_subscribe(mut self, subject: impl Into<String>) -> Self {
        self.subscribe.deny.push(subject.into());
        self
    }

    /// The user's entry in the `users` list of the server config.
    fn render(&self) -> String {
        let mut permissions = Vec::new();
        for (direction, rules) in [("publish", &self.publish), ("subscribe", &self.subscribe)] {
            let mut lists = Vec::new();
            for (kind, subjects) in [("allow", &rules.allow), ("deny", &rules.deny)] {
                if !subjects.is_empty() {
                    let subjects: Vec<String> = subjects.iter().map(|s| quote(s)).collect();
                    lists.push(format!("{kind}: [{}]", subjects.join(", ")));
                }
            }
            if !lists.is_empty() {
                permissions.push(format!("{direction}: {{ {} }}", lists.join(", ")));
            }
        }
        let permissions = if permissions.is_empty() {
            String::new()
        } else {
            format!(", permissions: {{ {} }}", permissions.join(", "))
        };
        format!(
            "{{ user: {}, password: {}{permissions} }}",
            quote(&self.name),
            quote(&self.password)
        )
    }
}

/// The `authorization` block for `users`; nothing (anyone may connect) without users.
pub(super) fn render_authorization(users: &[User]) -> Option<String> {
    if users.is_empty() {
        return None;
    }
    let entries: Vec<String> = users
        .iter()
        .map(|u| format!("    {}", u.render()))
        .collect();
    Some(format!(
        "authorization {{\n  users: [\n{}\n  ]\n}}",
        entries.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_render_with_their_rules() {
        let text = render_authorization(&[
            User::new("admin", "p\"w"),
            User::new("reader", "pw")
                .allow_publish("$JS.API.>")
                .deny_publish("$KV.orders.>")
                .deny_subscribe("secret.>"),
        ])
        .unwrap();
        assert!(
            text.contains(r#"{ user: "admin", password: "p\"w" }"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"{ user: "reader", password: "pw", permissions: { publish: { allow: ["$JS.API.>"], deny: ["$KV.orders.>"] }, subscribe: { deny: ["secret.>"] } } }"#
            ),
            "{text}"
        );
        assert_eq!(render_authorization(&[]), None);
    }
}
