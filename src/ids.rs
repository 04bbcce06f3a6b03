//! Names, resource ids, key URLs and GUIDs: parsing and validation in one place.
//!
//! Every name that becomes a path component is checked here first, so that no name can reach
//! outside the store: names are ASCII letters, digits and a few punctuation marks, and must
//! start with a letter or digit (so `.`, `..` and hidden names are impossible).

use rand::TryRng;

use crate::error::{Error, Result};

/// The kinds of named resources, with their naming rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Vault,
    Key,
    DiskEncryptionSet,
    Disk,
    Snapshot,
    Image,
    ResourceGroup,
    VirtualMachine,
    ScaleSet,
}

impl Kind {
    /// Human name used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Vault => "key vault",
            Kind::Key => "key",
            Kind::DiskEncryptionSet => "disk encryption set",
            Kind::Disk => "disk",
            Kind::Snapshot => "snapshot",
            Kind::Image => "image",
            Kind::ResourceGroup => "resource group",
            Kind::VirtualMachine => "virtual machine",
            Kind::ScaleSet => "virtual machine scale set",
        }
    }

    /// The provider path segment in a resource id.
    pub fn provider(self) -> &'static str {
        match self {
            Kind::Vault => "Microsoft.KeyVault/vaults",
            Kind::Key => "Microsoft.KeyVault/vaults/keys",
            Kind::DiskEncryptionSet => "Microsoft.Compute/diskEncryptionSets",
            Kind::Disk => "Microsoft.Compute/disks",
            Kind::Snapshot => "Microsoft.Compute/snapshots",
            Kind::Image => "Microsoft.Compute/images",
            Kind::ResourceGroup => "resourceGroups",
            Kind::VirtualMachine => "Microsoft.Compute/virtualMachines",
            Kind::ScaleSet => "Microsoft.Compute/virtualMachineScaleSets",
        }
    }
}

/// Separates a resource's name from its group in store entries and internal references
/// (`NAME@GROUP`); no name or group may contain it.
pub const GROUP_SEPARATOR: char = '@';

/// The internal reference of a resource scoped to a group: `NAME@GROUP`.
pub fn reference(name: &str, group: &str) -> String {
    format!("{name}{GROUP_SEPARATOR}{group}")
}

/// Checks a name against its kind's rules (az's, narrowed to what is safe as a file name).
pub fn validate_name(kind: Kind, name: &str) -> Result<()> {
    let (min, max, extra, rule): (usize, usize, &str, &str) = match kind {
        Kind::Vault => (
            3,
            24,
            "-",
            "3 to 24 letters, digits and hyphens, starting with a letter",
        ),
        Kind::Key => (1, 127, "-", "1 to 127 letters, digits and hyphens"),
        Kind::Disk | Kind::Snapshot | Kind::Image | Kind::DiskEncryptionSet => (
            1,
            80,
            "_-.",
            "1 to 80 letters, digits, '_', '-' and '.', starting with a letter or digit and not ending with '.' or '-'",
        ),
        Kind::VirtualMachine | Kind::ScaleSet => (
            1,
            64,
            "_-.",
            "1 to 64 letters, digits, '_', '-' and '.', starting with a letter or digit and not ending with '.' or '-'",
        ),
        Kind::ResourceGroup => (
            1,
            90,
            "_-.()",
            "1 to 90 letters, digits, '_', '-', '.', '(' and ')', not ending with '.'",
        ),
    };
    let bad = || {
        let shown: String = name
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        Error::invalid(format!(
            "invalid {} name '{shown}': use {rule}",
            kind.label()
        ))
    };
    let len = name.len();
    if len < min || len > max || !name.is_ascii() {
        return Err(bad());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(bad());
    }
    let first = name.chars().next().ok_or_else(bad)?;
    let last = name.chars().last().ok_or_else(bad)?;
    let first_ok = match kind {
        Kind::Vault => first.is_ascii_alphabetic(),
        Kind::ResourceGroup => first != '.',
        _ => first.is_ascii_alphanumeric(),
    };
    let last_ok = match kind {
        Kind::Vault => last.is_ascii_alphanumeric() && !name.contains("--"),
        Kind::ResourceGroup => last != '.',
        _ => last != '.' && last != '-',
    };
    if first_ok && last_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A parsed az resource id:
/// `/subscriptions/SUB/resourceGroups/RG/providers/NAMESPACE/TYPE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: String,
    pub kind: Kind,
    pub name: String,
}

impl ResourceId {
    /// Formats an id.
    pub fn format(subscription: &str, resource_group: &str, kind: Kind, name: &str) -> String {
        format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{}/{name}",
            kind.provider()
        )
    }

    /// Parses an id of the given kind; segment names compare case-insensitively as in Azure.
    pub fn parse(id: &str, kind: Kind) -> Result<Self> {
        let bad = |why: &str| {
            let shown: String = id
                .chars()
                .take(200)
                .flat_map(char::escape_default)
                .collect();
            Error::invalid(format!(
                "'{shown}' is not a {} resource id ({why}); expected /subscriptions/SUB/resourceGroups/RG/providers/{}/NAME",
                kind.label(),
                kind.provider()
            ))
        };
        let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
        let provider: Vec<&str> = kind.provider().split('/').collect();
        if provider.len() != 2 || parts.len() != 7 + provider.len() || !parts[0].is_empty() {
            return Err(bad("wrong number of segments"));
        }
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if !eq(parts[1], "subscriptions")
            || !eq(parts[3], "resourceGroups")
            || !eq(parts[5], "providers")
        {
            return Err(bad("unexpected segment names"));
        }
        if !eq(parts[6], provider[0]) || !eq(parts[7], provider[1]) {
            return Err(bad("wrong resource type"));
        }
        let subscription = parts[2];
        if subscription.is_empty() || subscription.len() > 64 {
            return Err(bad("empty or overlong subscription"));
        }
        validate_name(Kind::ResourceGroup, parts[4])?;
        let name = parts[parts.len() - 1];
        validate_name(kind, name)?;
        Ok(ResourceId {
            subscription: subscription.to_string(),
            resource_group: parts[4].to_string(),
            kind,
            name: name.to_string(),
        })
    }
}

/// Accepts a name or a resource id (az takes either) and returns the name, with the id's
/// parts when an id was given.
pub fn name_or_id(value: &str, kind: Kind) -> Result<(String, Option<ResourceId>)> {
    if value.starts_with('/') {
        let id = ResourceId::parse(value, kind)?;
        Ok((id.name.clone(), Some(id)))
    } else {
        validate_name(kind, value)?;
        Ok((value.to_string(), None))
    }
}

/// The domain under which vault URLs live, as in the public cloud.
pub const VAULT_DOMAIN: &str = "vault.azure.net";

/// A parsed key URL `https://VAULT.vault.azure.net/keys/NAME[/VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUrl {
    pub vault: String,
    pub key: String,
    pub version: Option<String>,
}

impl KeyUrl {
    /// Parses a key URL; the host compares case-insensitively, the version must be 32 hex digits.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| {
            let shown: String = url
                .chars()
                .take(200)
                .flat_map(char::escape_default)
                .collect();
            Error::invalid(format!(
                "'{shown}' is not a key URL ({why}); expected https://VAULT.{VAULT_DOMAIN}/keys/NAME/VERSION"
            ))
        };
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| bad("it must start with https://"))?;
        let rest = rest.trim_end_matches('/');
        let mut parts = rest.split('/');
        let host = parts.next().unwrap_or_default().to_ascii_lowercase();
        let host = host.strip_suffix(":443").unwrap_or(&host);
        let vault = host
            .strip_suffix(&format!(".{VAULT_DOMAIN}"))
            .ok_or_else(|| bad("the host is not a vault"))?;
        if parts.next() != Some("keys") {
            return Err(bad("the path must start with /keys/"));
        }
        let key = parts.next().ok_or_else(|| bad("no key name"))?;
        let version = parts.next().map(str::to_string);
        if parts.next().is_some() {
            return Err(bad("too many path segments"));
        }
        validate_name(Kind::Vault, vault)?;
        validate_name(Kind::Key, key)?;
        if let Some(v) = &version {
            validate_version(v)?;
        }
        Ok(KeyUrl {
            vault: vault.to_string(),
            key: key.to_string(),
            version,
        })
    }

    /// Formats a key URL for a version.
    pub fn format(vault: &str, key: &str, version: &str) -> String {
        format!(
            "https://{}.{VAULT_DOMAIN}/keys/{key}/{version}",
            vault.to_ascii_lowercase()
        )
    }

    /// The URL of this key at `version`.
    pub fn with_version(&self, version: &str) -> String {
        Self::format(&self.vault, &self.key, version)
    }
}

/// Checks a key version id: 32 lowercase or uppercase hex digits.
pub fn validate_version(v: &str) -> Result<()> {
    if v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        let shown: String = v.chars().take(40).flat_map(char::escape_default).collect();
        Err(Error::invalid(format!(
            "'{shown}' is not a key version (32 hex digits)"
        )))
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    rand::rngs::SysRng
        .try_fill_bytes(&mut b)
        .map_err(|e| Error::Crypto(format!("the system RNG failed: {e}")))?;
    Ok(b)
}

/// A new key version id (32 lowercase hex digits).
pub fn new_version() -> Result<String> {
    Ok(random_bytes::<16>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A new random (v4) GUID, as principal, tenant and subscription ids are.
pub fn new_guid() -> Result<String> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_or_confuse_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\0b",
            "a\nb",
            "-x",
            "x.",
            ".hidden",
            "аbc",
            "a b",
            &"x".repeat(81),
        ] {
            assert!(validate_name(Kind::Disk, bad).is_err(), "{bad:?}");
        }
        for good in ["d", "disk-1", "Disk_2.data", &"x".repeat(80)] {
            validate_name(Kind::Disk, good).unwrap();
        }
        assert!(validate_name(Kind::Vault, "ab").is_err());
        assert!(validate_name(Kind::Vault, "1vault").is_err());
        assert!(validate_name(Kind::Vault, "my--vault").is_err());
        validate_name(Kind::Vault, "my-vault1").unwrap();
    }

    #[test]
    fn resource_ids_round_trip_and_reject_other_types() {
        let id = ResourceId::format("sub", "rg", Kind::DiskEncryptionSet, "des1");
        let parsed = ResourceId::parse(&id, Kind::DiskEncryptionSet).unwrap();
        assert_eq!(parsed.name, "des1");
        assert_eq!(parsed.resource_group, "rg");
        let upper = id.to_uppercase().replace("DES1", "des1");
        assert_eq!(
            ResourceId::parse(&upper, Kind::DiskEncryptionSet)
                .unwrap()
                .name,
            "des1"
        );
        assert!(ResourceId::parse(&id, Kind::Disk).is_err());
        assert!(
            ResourceId::parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/../x",
                Kind::Disk
            )
            .is_err()
        );
        assert!(ResourceId::parse("garbage", Kind::Disk).is_err());
        let vault = ResourceId::format("s", "rg", Kind::Vault, "kv1");
        assert_eq!(ResourceId::parse(&vault, Kind::Vault).unwrap().name, "kv1");
    }

    #[test]
    fn key_urls_parse_with_and_without_version() {
        let v = new_version().unwrap();
        let url = KeyUrl::format("MyVault", "key1", &v);
        assert_eq!(
            url,
            format!("https://myvault.vault.azure.net/keys/key1/{v}")
        );
        let k = KeyUrl::parse(&url).unwrap();
        assert_eq!((k.vault.as_str(), k.key.as_str()), ("myvault", "key1"));
        assert_eq!(k.version.as_deref(), Some(v.as_str()));
        assert_eq!(
            KeyUrl::parse("https://kv1.vault.azure.net/keys/k/")
                .unwrap()
                .version,
            None
        );
        for bad in [
            "http://kv1.vault.azure.net/keys/k",
            "https://kv1.example.com/keys/k",
            "https://kv1.vault.azure.net/secrets/k",
            "https://kv1.vault.azure.net/keys/k/123",
            "https://kv1.vault.azure.net/keys/k/v/extra",
            "https://../keys/k",
        ] {
            assert!(KeyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guids_are_v4() {
        let g = new_guid().unwrap();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
    }
}
