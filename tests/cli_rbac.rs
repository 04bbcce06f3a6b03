//! Role assignments and vaults whose key access is decided by them (`--enable-rbac-authorization
//! true`): the built-in roles with their real ids, az's JSON shape, inheritance down from the
//! subscription, group and vault scopes, the documented `--role Reader` line (accepted, grants
//! no key operation), `set-policy` refused as az refuses it, and access that comes and goes
//! with the assignment.

mod common;

use common::Env;

fn rbac_vault(env: &Env) -> (String, String) {
    env.ok(&[
        "keyvault",
        "create",
        "-n",
        "kv-rbac",
        "-g",
        "rg",
        "-l",
        "eastus",
        "--enable-purge-protection",
        "true",
        "--enable-rbac-authorization",
        "true",
        "-o",
        "none",
    ]);
    let vault_id = env.ok(&[
        "keyvault", "show", "-n", "kv-rbac", "--query", "id", "-o", "tsv",
    ]);
    assert_eq!(
        env.ok(&[
            "keyvault",
            "show",
            "-n",
            "kv-rbac",
            "--query",
            "properties.enableRbacAuthorization",
            "-o",
            "tsv"
        ]),
        "True"
    );
    // The creator of an RBAC vault has no key access until a role gives it.
    env.fails(
        &[
            "keyvault",
            "key",
            "create",
            "--vault-name",
            "kv-rbac",
            "-n",
            "k",
        ],
        1,
        "no role assignment",
    );
    let me = env.ok(&["account", "show", "--query", "user.name", "-o", "tsv"]);
    env.ok(&[
        "role",
        "assignment",
        "create",
        "--assignee",
        &me,
        "--role",
        "Key Vault Crypto Officer",
        "--scope",
        &vault_id,
        "-o",
        "none",
    ]);
    env.ok(&[
        "keyvault",
        "key",
        "create",
        "--vault-name",
        "kv-rbac",
        "-n",
        "k",
        "-o",
        "none",
    ]);
    let url = env.ok(&[
        "keyvault",
        "key",
        "show",
        "--vault-name",
        "kv-rbac",
        "-n",
        "k",
        "--query",
        "key.kid",
        "-o",
        "tsv",
    ]);
    env.ok(&[
        "disk-encryption-set",
        "create",
        "-n",
        "des-rbac",
        "-g",
        "rg",
        "--key-url",
        &url,
        "--source-vault",
        &vault_id,
        "-o",
        "none",
    ]);
    (vault_id, url)
}

#[test]
fn role_definitions_have_the_clouds_ids_and_data_actions() {
    let env = Env::new();
    let sub = env.ok(&["account", "show", "--query", "id", "-o", "tsv"]);
    for (name, id) in [
        ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
        ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
        ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
        (
            "Key Vault Administrator",
            "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        ),
        (
            "Key Vault Crypto Officer",
            "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        ),
        (
            "Key Vault Crypto User",
            "12338af0-0e69-4776-bea7-57ae8d297424",
        ),
        (
            "Key Vault Crypto Service Encryption User",
            "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        ),
        ("Key Vault Reader", "21090545-7ca7-4776-b22c-e363652d74d2"),
    ] {
        let def = env.json(&["role", "definition", "list", "--name", name]);
        assert_eq!(def[0]["roleName"], name);
        assert_eq!(def[0]["name"], id);
        assert_eq!(
            def[0]["id"],
            format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{id}")
        );
        assert_eq!(def[0]["roleType"], "BuiltInRole");
    }
    let sees = env.ok(&[
        "role",
        "definition",
        "list",
        "--name",
        "Key Vault Crypto Service Encryption User",
        "--query",
        "[0].permissions[0].dataActions",
        "-o",
        "tsv",
    ]);
    assert!(
        sees.contains("Microsoft.KeyVault/vaults/keys/unwrap/action"),
        "{sees}"
    );
    env.fails(
        &["role", "definition", "list", "--name", "Nope"],
        3,
        "not found",
    );
}

#[test]
fn an_rbac_vault_takes_its_key_access_from_role_assignments() {
    let env = Env::new();
    let (vault_id, _url) = rbac_vault(&env);
    let pid = env.ok(&[
        "disk-encryption-set",
        "show",
        "-n",
        "des-rbac",
        "--query",
        "identity.principalId",
        "-o",
        "tsv",
    ]);
    // az refuses access policies on such a vault, with this text.
    env.fails(
        &[
            "keyvault",
            "set-policy",
            "-n",
            "kv-rbac",
            "--object-id",
            &pid,
            "--key-permissions",
            "get",
            "wrapkey",
            "unwrapkey",
        ],
        1,
        "Cannot set policies to a vault with '--enable-rbac-authorization' specified",
    );
    // The documented line: a Reader assignment at the vault. Accepted, and grants no key use.
    let reader = env.json(&[
        "role",
        "assignment",
        "create",
        "--assignee",
        &pid,
        "--role",
        "Reader",
        "--scope",
        &vault_id,
    ]);
    assert_eq!(reader["principalId"], pid.as_str());
    assert_eq!(reader["scope"], vault_id.as_str());
    assert_eq!(reader["roleDefinitionName"], "Reader");
    assert_eq!(reader["principalType"], "ServicePrincipal");
    assert_eq!(reader["type"], "Microsoft.Authorization/roleAssignments");
    assert!(
        reader["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7")
    );
    let rid = reader["id"].as_str().unwrap().to_string();
    assert!(rid.starts_with(&format!(
        "{vault_id}/providers/Microsoft.Authorization/roleAssignments/"
    )));
    let create = [
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--disk-encryption-set",
        "des-rbac",
        "-o",
        "none",
    ];
    env.fails(&create, 1, "Key Vault Crypto Service Encryption User");
    // The role that lets a set wrap, at the resource group: inherited by the vault and its keys.
    let group_scope = vault_id.split("/providers/").next().unwrap().to_string();
    env.ok(&[
        "role",
        "assignment",
        "create",
        "--assignee-object-id",
        &pid,
        "--role",
        "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        "--scope",
        &group_scope,
        "-o",
        "none",
    ]);
    env.ok(&create);
    assert_eq!(
        env.ok(&[
            "role",
            "assignment",
            "list",
            "--assignee",
            &pid,
            "--query",
            "length(@)"
        ]),
        "2"
    );
    // Removing it revokes the set's access at once; a snapshot (an unwrap) is refused.
    env.ok(&[
        "role",
        "assignment",
        "delete",
        "--assignee",
        &pid,
        "--role",
        "Key Vault Crypto Service Encryption User",
    ]);
    env.fails(
        &["snapshot", "create", "-n", "s", "-g", "rg", "--source", "d"],
        1,
        "Forbidden",
    );
    // Back at the vault scope, by id-less create again; then delete the Reader one by --ids.
    env.ok(&[
        "role",
        "assignment",
        "create",
        "--assignee",
        &pid,
        "--role",
        "Key Vault Crypto Service Encryption User",
        "--scope",
        &vault_id,
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);
    env.ok(&["role", "assignment", "delete", "--ids", &rid]);
    assert_eq!(
        env.ok(&[
            "role",
            "assignment",
            "list",
            "--role",
            "Reader",
            "--query",
            "length(@)"
        ]),
        "0"
    );
    env.fails(&["role", "assignment", "delete"], 2, "at least one");
    env.fails(
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &pid,
            "--role",
            "Reader",
            "--scope",
            "/subscriptions/00000000-0000-0000-0000-000000000000",
        ],
        2,
        "not the current subscription",
    );
    // An access-policy vault ignores role assignments.
    env.ok(&[
        "role",
        "assignment",
        "create",
        "--assignee",
        &pid,
        "--role",
        "Key Vault Administrator",
        "-o",
        "none",
    ]);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_ssefs"))
        .arg("check")
        .env("SSEFS_STORE", env.store())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
