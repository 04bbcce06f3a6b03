//! Rotation policies: reading the policy az sends (`--value`), Key Vault's rules for it, and
//! when its `Rotate` action is due. Pure functions over records; storing, auditing and
//! performing rotations is `lifetime.rs`'s job.
//!
//! az reads the policy with its keys turned to snake case, so both the REST shape
//! (`lifetimeActions[].trigger.timeAfterCreate`, `action.type`, `attributes.expiryTime`) and
//! az's own output shape (`lifetimeActions[].action` as a string, `timeAfterCreate` beside it,
//! `expiresIn`) are accepted, camelCase or snake_case; `show`'s output can be fed back as is.

use serde_json::{Map, Value};

use crate::clock;
use crate::duration::IsoDuration;
use crate::error::{Error, Result};
use crate::format::{KeyVersionRecord, LifetimeActionRecord, RotationPolicyRecord};

/// The action that makes a new key version.
pub const ROTATE: &str = "Rotate";
/// The action that, in the cloud, sends an Event Grid event (ssefs records it and does nothing).
pub const NOTIFY: &str = "Notify";

const DAY: i64 = 86_400;
/// Key Vault's shortest rotation period: 7 days after creation and 7 days before expiry.
const MIN_ROTATION: i64 = 7 * DAY;
/// Key Vault's shortest `expiryTime`.
const MIN_EXPIRY: i64 = 28 * DAY;

/// The policy Key Vault shows for a key that never had one set: notify 30 days before expiry.
pub fn default_actions() -> Vec<LifetimeActionRecord> {
    vec![LifetimeActionRecord {
        action: NOTIFY.into(),
        time_after_create: None,
        time_before_expiry: Some("P30D".into()),
    }]
}

/// Reads and validates a policy as az sends it: its lifetime actions and `expiryTime`, in
/// canonical form. An empty `lifetimeActions` restores the default actions, as in the cloud.
pub fn parse(value: &Value) -> Result<(Vec<LifetimeActionRecord>, Option<String>)> {
    let top = object(value, "the policy")?;
    check_keys(
        value,
        "the policy",
        &[
            "lifetime_actions",
            "attributes",
            "expires_in",
            "expiry_time",
            // Shown by `rotation-policy show`, ignored on the way back in.
            "id",
            "created_on",
            "updated_on",
        ],
    )?;
    let mut actions = Vec::new();
    match top.get("lifetime_actions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                actions.push(parse_action(item, i)?);
            }
        }
        Some(_) => {
            return Err(Error::invalid(
                "'lifetimeActions' must be a list of actions",
            ));
        }
    }
    let mut expiry = duration_field(&top, "expiry_time", "expiryTime")?.or(duration_field(
        &top,
        "expires_in",
        "expiresIn",
    )?);
    if let Some(attrs) = top.get("attributes").filter(|a| !a.is_null()) {
        check_keys(
            attrs,
            "'attributes'",
            &["expiry_time", "expires_in", "created", "updated"],
        )?;
        let attrs = object(attrs, "'attributes'")?;
        // As in az, the attributes' expiry wins over a top-level one.
        if let Some(e) = duration_field(&attrs, "expiry_time", "attributes.expiryTime")?.or(
            duration_field(&attrs, "expires_in", "attributes.expiresIn")?,
        ) {
            expiry = Some(e);
        }
    }
    if actions.is_empty() {
        actions = default_actions();
    }
    validate(actions, expiry)
}

/// Key Vault's rules: `Rotate` and `Notify` only, at most one of each; exactly one trigger per
/// action; `Notify` before expiry only; `expiryTime` at least 28 days; a rotation at least 7
/// days after creation and 7 days before expiry; a rotation before expiry needs an
/// `expiryTime`, and one after creation must come before the version expires.
pub fn validate(
    actions: Vec<LifetimeActionRecord>,
    expiry: Option<String>,
) -> Result<(Vec<LifetimeActionRecord>, Option<String>)> {
    let expiry = expiry.map(|e| IsoDuration::parse(&e)).transpose()?;
    if let Some(e) = &expiry
        && e.secs() < MIN_EXPIRY
    {
        return Err(Error::invalid(format!(
            "expiryTime {} is shorter than Key Vault's minimum of 28 days (P28D)",
            e.text()
        )));
    }
    let mut out: Vec<LifetimeActionRecord> = Vec::new();
    for a in actions {
        let kind = if a.action.eq_ignore_ascii_case(ROTATE) {
            ROTATE
        } else if a.action.eq_ignore_ascii_case(NOTIFY) {
            NOTIFY
        } else {
            return Err(Error::invalid(format!(
                "action type '{}' is not Rotate or Notify",
                a.action.chars().take(40).collect::<String>()
            )));
        };
        if out.iter().any(|o| o.action == kind) {
            return Err(Error::invalid(format!(
                "the policy has more than one {kind} action: give at most one Rotate and one Notify"
            )));
        }
        let after = a
            .time_after_create
            .as_deref()
            .map(IsoDuration::parse)
            .transpose()?;
        let before = a
            .time_before_expiry
            .as_deref()
            .map(IsoDuration::parse)
            .transpose()?;
        match (&after, &before) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(format!(
                    "the {kind} action has both timeAfterCreate and timeBeforeExpiry: they are exclusive, give one trigger per action"
                )));
            }
            (None, None) => {
                return Err(Error::invalid(format!(
                    "the {kind} action has no trigger: give timeAfterCreate or timeBeforeExpiry"
                )));
            }
            _ => {}
        }
        for d in after.iter().chain(before.iter()) {
            if d.secs() <= 0 {
                return Err(Error::invalid(format!(
                    "the {kind} action's trigger {} must be longer than zero",
                    d.text()
                )));
            }
        }
        if kind == NOTIFY && after.is_some() {
            return Err(Error::invalid(
                "a Notify action takes timeBeforeExpiry only (Key Vault notifies before expiry)",
            ));
        }
        if kind == ROTATE {
            check_rotation(after.as_ref(), before.as_ref(), expiry.as_ref())?;
        }
        out.push(LifetimeActionRecord {
            action: kind.into(),
            time_after_create: after.map(|d| d.text().to_string()),
            time_before_expiry: before.map(|d| d.text().to_string()),
        });
    }
    Ok((out, expiry.map(|e| e.text().to_string())))
}

fn check_rotation(
    after: Option<&IsoDuration>,
    before: Option<&IsoDuration>,
    expiry: Option<&IsoDuration>,
) -> Result<()> {
    if let Some(a) = after {
        if a.secs() < MIN_ROTATION {
            return Err(Error::invalid(format!(
                "timeAfterCreate {} is shorter than Key Vault's minimum rotation period of 7 days (P7D)",
                a.text()
            )));
        }
        if let Some(e) = expiry
            && a.secs() >= e.secs()
        {
            return Err(Error::invalid(format!(
                "timeAfterCreate {} is not shorter than expiryTime {}: every version would expire before it rotates",
                a.text(),
                e.text()
            )));
        }
    }
    if let Some(b) = before {
        let Some(e) = expiry else {
            return Err(Error::invalid(format!(
                "a Rotate action with timeBeforeExpiry {} needs an expiryTime in the policy's attributes (versions made by rotation get it as their expiry)",
                b.text()
            )));
        };
        if b.secs() < MIN_ROTATION {
            return Err(Error::invalid(format!(
                "timeBeforeExpiry {} is shorter than Key Vault's minimum of 7 days (P7D)",
                b.text()
            )));
        }
        if e.secs() - b.secs() < MIN_ROTATION {
            return Err(Error::invalid(format!(
                "timeBeforeExpiry {} with expiryTime {} rotates less than 7 days after a version is created: Key Vault's minimum rotation period is 7 days",
                b.text(),
                e.text()
            )));
        }
    }
    Ok(())
}

/// Why the policy's `Rotate` action is due for a key whose latest version is `latest`, if it
/// is: its `timeAfterCreate` has passed since that version was created, or its
/// `timeBeforeExpiry` has been reached before that version's `expires`.
pub fn rotation_due(
    policy: &RotationPolicyRecord,
    latest: &KeyVersionRecord,
    now: i64,
) -> Option<String> {
    let rotate = policy
        .lifetime_actions
        .iter()
        .find(|a| a.action == ROTATE)?;
    let parsed = |d: &Option<String>| d.as_deref().and_then(|t| IsoDuration::parse(t).ok());
    if let Some(after) = parsed(&rotate.time_after_create)
        && now >= latest.created.saturating_add(after.secs())
    {
        return Some(format!(
            "timeAfterCreate {} has passed since version {} was created at {}",
            after.text(),
            latest.id,
            clock::rfc3339(latest.created)
        ));
    }
    if let (Some(before), Some(expires)) = (parsed(&rotate.time_before_expiry), latest.expires)
        && now >= expires.saturating_sub(before.secs())
    {
        return Some(format!(
            "version {} expires at {}, within timeBeforeExpiry {}",
            latest.id,
            clock::rfc3339(expires),
            before.text()
        ));
    }
    None
}

/// The `expires` a version made by rotation at `now` gets: now plus the policy's `expiryTime`.
pub fn rotated_expiry(policy: Option<&RotationPolicyRecord>, now: i64) -> Option<i64> {
    let text = policy?.expiry_time.as_deref()?;
    IsoDuration::parse(text)
        .ok()
        .map(|d| now.saturating_add(d.secs()))
}

/// Turns `keyName` into `key_name`, as az does to every key of a policy it reads.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A JSON object with its keys in snake case.
fn object(value: &Value, what: &str) -> Result<Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m.iter().map(|(k, v)| (snake(k), v.clone())).collect()),
        _ => Err(Error::invalid(format!("{what} must be a JSON object"))),
    }
}

/// Refuses a field of `value` (an object) whose snake-case name is not `known`, naming it as
/// given.
fn check_keys(value: &Value, what: &str, known: &[&str]) -> Result<()> {
    let fields = value.as_object().into_iter().flat_map(|m| m.keys());
    match fields
        .into_iter()
        .find(|k| !known.contains(&snake(k).as_str()))
    {
        Some(k) => Err(Error::invalid(format!(
            "{what} has an unknown field '{}'; a policy has lifetimeActions (each a trigger with timeAfterCreate or timeBeforeExpiry, and an action type) and attributes.expiryTime",
            k.chars().take(40).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// A duration-valued field: absent or null is `None`; anything but a string is refused.
fn duration_field(map: &Map<String, Value>, key: &str, shown: &str) -> Result<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid(format!(
            "'{shown}' must be an ISO 8601 duration string such as \"P30D\""
        ))),
    }
}

fn parse_action(item: &Value, i: usize) -> Result<LifetimeActionRecord> {
    let what = format!("lifetimeActions[{i}]");
    check_keys(
        item,
        &what,
        &[
            "trigger",
            "action",
            "time_after_create",
            "time_before_expiry",
        ],
    )?;
    let item = object(item, &what)?;
    let action = match item.get("action") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => {
            check_keys(v, &format!("{what}.action"), &["type"])?;
            let a = object(v, &format!("{what}.action"))?;
            match a.get("type") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(Error::invalid(format!(
                        "{what}.action.type must be Rotate or Notify"
                    )));
                }
            }
        }
        _ => {
            return Err(Error::invalid(format!(
                "{what} needs an action: {{\"type\": \"Rotate\"}} or {{\"type\": \"Notify\"}}"
            )));
        }
    };
    // As in az, a trigger object wins over times given beside the action.
    let trigger = match item.get("trigger").filter(|t| !t.is_null()) {
        Some(t) => {
            check_keys(
                t,
                &format!("{what}.trigger"),
                &["time_after_create", "time_before_expiry"],
            )?;
            object(t, &format!("{what}.trigger"))?
        }
        None => item.clone(),
    };
    Ok(LifetimeActionRecord {
        action,
        time_after_create: duration_field(
            &trigger,
            "time_after_create",
            &format!("{what}.trigger.timeAfterCreate"),
        )?,
        time_before_expiry: duration_field(
            &trigger,
            "time_before_expiry",
            &format!("{what}.trigger.timeBeforeExpiry"),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(v: Value) -> Result<(Vec<LifetimeActionRecord>, Option<String>)> {
        parse(&v)
    }

    fn err(v: Value) -> String {
        parsed(v).unwrap_err().to_string()
    }

    #[test]
    fn the_documented_shape_and_azs_own_output_read_the_same() {
        let rest = json!({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}},{"trigger":{"timeBeforeExpiry":"P7D"},"action":{"type":"Notify"}}],"attributes":{"expiryTime":"P90D"}});
        let az_out = json!({"id":"https://v.vault.azure.net/keys/k/rotationpolicy","createdOn":null,"updatedOn":null,"expiresIn":"P90D","lifetimeActions":[{"action":"rotate","timeAfterCreate":"p30d","timeBeforeExpiry":null},{"action":"Notify","timeAfterCreate":null,"timeBeforeExpiry":"P7D"}]});
        let snake_file = json!({"lifetime_actions":[{"trigger":{"time_after_create":"P30D","time_before_expiry":null},"action":{"type":"Rotate"}},{"trigger":{"time_before_expiry":"P7D"},"action":{"type":"Notify"}}],"attributes":{"expires_in":"P90D"}});
        let a = parsed(rest).unwrap();
        assert_eq!(a, parsed(az_out).unwrap());
        assert_eq!(a, parsed(snake_file).unwrap());
        assert_eq!(a.1.as_deref(), Some("P90D"));
        assert_eq!(a.0[0].action, "Rotate");
        assert_eq!(a.0[0].time_after_create.as_deref(), Some("P30D"));
        // An empty list restores the default, as the SDKs document.
        assert_eq!(
            parsed(json!({"lifetimeActions": []})).unwrap().0,
            default_actions()
        );
    }

    #[test]
    fn key_vaults_rules_are_enforced() {
        let rot = |trigger: Value, expiry: Value| json!({"lifetimeActions":[{"trigger":trigger,"action":{"type":"Rotate"}}],"attributes":{"expiryTime":expiry}});
        assert!(err(json!([])).contains("JSON object"));
        assert!(
            err(json!({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}},{"trigger":{"timeAfterCreate":"P60D"},"action":{"type":"Rotate"}}]})).contains("more than one Rotate")
        );
        assert!(
            err(rot(
                json!({"timeAfterCreate":"P30D","timeBeforeExpiry":"P10D"}),
                json!("P90D")
            ))
            .contains("exclusive")
        );
        assert!(err(rot(json!({}), Value::Null)).contains("no trigger"));
        assert!(err(rot(json!({"timeAfterCreate":"P6D"}), Value::Null)).contains("7 days"));
        assert!(err(rot(json!({"timeAfterCreate":"PT167H"}), Value::Null)).contains("7 days"));
        assert!(parsed(rot(json!({"timeAfterCreate":"P7D"}), Value::Null)).is_ok());
        assert!(err(rot(json!({"timeBeforeExpiry":"P10D"}), Value::Null)).contains("expiryTime"));
        assert!(err(rot(json!({"timeBeforeExpiry":"P6D"}), json!("P90D"))).contains("7 days"));
        assert!(err(rot(json!({"timeBeforeExpiry":"P25D"}), json!("P28D"))).contains("7 days"));
        assert!(parsed(rot(json!({"timeBeforeExpiry":"P21D"}), json!("P28D"))).is_ok());
        assert!(err(rot(json!({"timeAfterCreate":"P30D"}), json!("P27D"))).contains("28 days"));
        assert!(err(rot(json!({"timeAfterCreate":"P90D"}), json!("P90D"))).contains("expire"));
        assert!(err(rot(json!({"timeAfterCreate":"30 days"}), Value::Null)).contains("ISO 8601"));
        assert!(err(rot(json!({"timeAfterCreate":30}), Value::Null)).contains("string"));
        assert!(
            err(json!({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Delete"}}]}))
                .contains("not Rotate or Notify")
        );
        assert!(
            err(json!({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Notify"}}]}))
                .contains("timeBeforeExpiry only")
        );
        assert!(err(json!({"lifetimeAction":[]})).contains("unknown field 'lifetimeAction'"));
        assert!(
            err(json!({"lifetimeActions":[{"trigger":{"timeAfterCreat":"P30D"},"action":{"type":"Rotate"}}]}))
                .contains("unknown field")
        );
    }

    fn version(created: i64, expires: Option<i64>) -> KeyVersionRecord {
        KeyVersionRecord {
            id: "v1".into(),
            key_size: 2048,
            enabled: true,
            created,
            updated: created,
            n: String::new(),
            e: String::new(),
            expires,
            not_before: None,
            hsm: None,
            key_ops: None,
        }
    }

    fn policy(v: Value) -> RotationPolicyRecord {
        let (lifetime_actions, expiry_time) = parse(&v).unwrap();
        RotationPolicyRecord {
            lifetime_actions,
            expiry_time,
            created: 0,
            updated: 0,
        }
    }

    #[test]
    fn due_after_creation_or_before_expiry() {
        let after = policy(
            json!({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}]}),
        );
        let v = version(1000, None);
        assert!(rotation_due(&after, &v, 1000 + 30 * DAY - 1).is_none());
        assert!(rotation_due(&after, &v, 1000 + 30 * DAY).is_some());
        let before = policy(
            json!({"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P10D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}),
        );
        // Without an expiry on the version, a rotation before expiry never comes due.
        assert!(rotation_due(&before, &v, i64::MAX / 2).is_none());
        let v = version(0, Some(90 * DAY));
        assert!(rotation_due(&before, &v, 80 * DAY - 1).is_none());
        assert!(rotation_due(&before, &v, 80 * DAY).is_some());
        // Notify alone rotates nothing.
        let notify = policy(json!({"lifetimeActions":[]}));
        assert!(rotation_due(&notify, &v, i64::MAX / 2).is_none());
        assert_eq!(rotated_expiry(Some(&before), 5), Some(5 + 90 * DAY));
        assert_eq!(rotated_expiry(Some(&after), 5), None);
        assert_eq!(rotated_expiry(None, 5), None);
    }
}
