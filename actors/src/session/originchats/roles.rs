//! Roles (reference §10.6 and the role parts of §10.5): the guild's roles
//! under their OriginChats names, `user` for `@everyone` and the `owner`
//! pseudo-role, which cannot be changed.

use serde_json::{json, Map, Value};
use switchboard_protocols::command::{Command, RolePatch};
use switchboard_protocols::model::Role;
use switchboard_protocols::originchats::perms::{role_permission_names, ROLE_PERMISSIONS};
use switchboard_protocols::originchats::strings as s;
use switchboard_protocols::originchats::{frame, objects, EVERYONE, OWNER};
use switchboard_protocols::{ErrorKind, GatewayError, Id, Refusal};

use super::commands::{Frames, Op};
use super::views::roles_of;
use crate::world::Reply;

const PROTECTED: [&str; 2] = [OWNER, EVERYONE];

/// `roles_list.roles`: name → role, owner first, `user` last.
pub(super) fn roles_map(roles: &[Role], guild: Id) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        OWNER.into(),
        json!({"id": OWNER, "description": "The guild's owner", "color": null, "hoisted": true,
               "permissions": ["administrator"], "self_assignable": false, "category": null, "position": 0}),
    );
    let mut sorted: Vec<&Role> = roles.iter().filter(|r| r.id != guild).collect();
    sorted.sort_by_key(|r| (r.position, r.id));
    let everyone = roles.iter().find(|r| r.id == guild);
    for (i, r) in sorted.iter().chain(everyone.iter()).enumerate() {
        let name = if r.id == guild {
            EVERYONE
        } else {
            r.name.as_str()
        };
        out.insert(
            name.to_string(),
            json!({
                "id": r.id,
                "description": r.description,
                "color": objects::color(r.color),
                "hoisted": r.hoisted,
                "permissions": role_permission_names(r.permissions),
                "self_assignable": r.self_assignable,
                "category": r.category,
                "position": i + 1,
            }),
        );
    }
    out
}

fn bits_of(names: &[Value]) -> Result<u64, String> {
    let mut bits = 0;
    for n in names {
        let name = n.as_str().unwrap_or_default();
        let Some((_, b)) = ROLE_PERMISSIONS.iter().find(|(p, _)| *p == name) else {
            return Err(format!("Unknown permission: {name}"));
        };
        bits |= b;
    }
    Ok(bits)
}

fn color_of(v: &Value) -> Option<u32> {
    v.as_str()
        .and_then(|s| s.strip_prefix('#'))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
}

fn role_by(op: &Op, id_or_name: Option<String>) -> Option<Role> {
    let key = id_or_name?;
    let roles = op.shared.roles();
    roles
        .values()
        .find(|r| r.id.to_string() == key || (r.id != op.guild && r.name == key))
        .or_else(|| (key == EVERYONE).then(|| roles.get(&op.guild)).flatten())
        .cloned()
}

fn denied(op: &Op, e: &GatewayError, perm: &str) -> Frames {
    if e.refusal == Some(Refusal::RoleHierarchy) {
        return op.err(s::ROLE_AT_OR_ABOVE);
    }
    if e.kind == ErrorKind::Forbidden {
        op.err(&format!("Access denied: '{perm}' permission required"))
    } else {
        op.err(&e.message)
    }
}

pub(super) async fn run(op: Op) -> Frames {
    match op.cmd.as_str() {
        "roles_list" => op.reply([(
            "roles",
            Value::Object(roles_map(
                &op.shared.roles().values().cloned().collect::<Vec<_>>(),
                op.guild,
            )),
        )]),
        "role_create" => {
            let Some(name) = op
                .text("name")
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
            else {
                return op.err("Role name is required");
            };
            if PROTECTED.contains(&name.as_str())
                || op.shared.roles().values().any(|r| r.name == name)
            {
                return op.err("Role already exists");
            }
            let wants_self = op.body.get("self_assignable").and_then(Value::as_bool) == Some(true);
            if wants_self && ["owner", "admin", "moderator"].contains(&name.as_str()) {
                return op.err(&format!("Role '{name}' cannot be made self-assignable"));
            }
            let permissions = match op.body.get("permissions").and_then(Value::as_array) {
                Some(list) => match bits_of(list) {
                    Ok(b) => b,
                    Err(e) => return op.err(&e),
                },
                None => 0,
            };
            let color = op.body.get("color").and_then(color_of).unwrap_or(0);
            let command = Command::CreateRole {
                guild_id: op.guild,
                name: name.clone(),
                color,
                permissions,
            };
            match op.exec(command).await {
                Ok(Reply::Role(r)) => {
                    let patch = RolePatch {
                        hoisted: op.body.get("hoisted").and_then(Value::as_bool),
                        self_assignable: op.body.get("self_assignable").and_then(Value::as_bool),
                        description: op.text("description"),
                        category: op
                            .body
                            .get("category")
                            .map(|c| c.as_str().map(str::to_string)),
                        ..RolePatch::default()
                    };
                    let wanted = patch.hoisted.is_some()
                        || patch.self_assignable.is_some()
                        || patch.description.is_some()
                        || patch.category.is_some();
                    if wanted {
                        let update = Command::UpdateRole {
                            role_id: r.id,
                            patch,
                        };
                        if let Err(e) = op.exec(update).await {
                            return op.err(&e.message);
                        }
                    }
                    op.reply([("id", json!(r.id)), ("name", json!(r.name))])
                }
                Ok(_) => op.err("Failed to create role"),
                Err(e) => denied(&op, &e, "manage_roles"),
            }
        }
        "role_update" => {
            let key = op.text("id").or_else(|| op.text("name"));
            if key.is_none() {
                return op.err("Role id or name is required");
            }
            if key.as_deref() == Some(OWNER) {
                return op.err(&format!("Cannot manage protected role '{OWNER}'"));
            }
            let Some(role) = role_by(&op, key) else {
                return op.err("Role not found");
            };
            let updates = op.body.get("updates").unwrap_or(&Value::Null);
            let pick = |k: &str| op.body.get(k).or_else(|| updates.get(k));
            let permissions = match pick("permissions").and_then(Value::as_array) {
                Some(list) => match bits_of(list) {
                    Ok(b) => Some(b),
                    Err(e) => return op.err(&e),
                },
                None => None,
            };
            let patch = RolePatch {
                name: pick("new_name").and_then(Value::as_str).map(str::to_string),
                color: pick("color").and_then(color_of),
                permissions,
                position: None,
                hoisted: pick("hoisted").and_then(Value::as_bool),
                self_assignable: pick("self_assignable").and_then(Value::as_bool),
                description: pick("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                category: pick("category").map(|c| c.as_str().map(str::to_string)),
            };
            match op
                .exec(Command::UpdateRole {
                    role_id: role.id,
                    patch,
                })
                .await
            {
                Ok(_) => op.reply([
                    ("id", json!(role.id)),
                    (
                        "name",
                        json!(if role.id == op.guild {
                            EVERYONE
                        } else {
                            role.name.as_str()
                        }),
                    ),
                    ("updated", json!(true)),
                ]),
                Err(e) if e.kind == ErrorKind::NotFound => op.err("Role not found"),
                Err(e) => denied(&op, &e, "manage_roles"),
            }
        }
        "role_delete" => {
            let key = op.text("id").or_else(|| op.text("name"));
            if key.as_deref().is_some_and(|k| PROTECTED.contains(&k)) {
                return op.err("Cannot delete system roles");
            }
            let Some(role) = role_by(&op, key) else {
                return op.err("Role not found");
            };
            if role.id == op.guild {
                return op.err("Cannot delete system roles");
            }
            match op.exec(Command::DeleteRole { role_id: role.id }).await {
                Ok(_) => op.reply([
                    ("id", json!(role.id)),
                    ("name", json!(role.name)),
                    ("deleted", json!(true)),
                ]),
                Err(e) => denied(&op, &e, "manage_roles"),
            }
        }
        "user_roles_get" => {
            let Some(name) = op.text("user").filter(|u| !u.is_empty()) else {
                return op.err("User parameter is required");
            };
            let Some(user) = op
                .world
                .store
                .user_by_name(&name)
                .ok()
                .flatten()
                .filter(|u| op.shared.is_member(u.id))
            else {
                return op.err(s::USER_NOT_FOUND);
            };
            let (roles, color) = roles_of(&op.shared, user.id);
            op.reply([
                ("user", json!(user.username)),
                ("roles", json!(roles)),
                ("color", json!(color)),
            ])
        }
        "self_role_add" | "self_role_remove" => self_role(op).await,
        "role_reorder" => reorder(op).await,
        "role_permissions_get" | "role_permissions_set" => role_permissions(op).await,
        "self_roles_list" => {
            let mine = op.shared.member_roles(op.user.id).unwrap_or_default();
            let mut list: Vec<Role> = op
                .shared
                .roles()
                .values()
                .filter(|r| r.self_assignable && r.id != op.guild)
                .cloned()
                .collect();
            list.sort_by_key(|r| (r.position, r.id));
            let roles: Vec<Value> = list
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "name": r.name,
                        "description": r.description,
                        "color": objects::color(r.color),
                        "category": r.category,
                        "assigned": mine.contains(&r.id),
                    })
                })
                .collect();
            op.reply([("roles", Value::Array(roles))])
        }
        _ => user_roles_set(op).await,
    }
}

async fn self_role(op: Op) -> Frames {
    let add = op.cmd == "self_role_add";
    let Some(name) = op.text("role").filter(|r| !r.is_empty()) else {
        return op.err("Role name is required");
    };
    let Some(role) = role_by(&op, Some(name.clone())).filter(|r| r.id != op.guild) else {
        return op.err("Role not found");
    };
    let command = Command::SelfRole {
        guild_id: op.guild,
        role_id: role.id,
        add,
    };
    match op.exec(command).await {
        Ok(_) => {
            let (roles, _) = roles_of(&op.shared, op.user.id);
            op.reply([
                ("role", json!(name)),
                ("success", json!(true)),
                ("roles", json!(roles)),
            ])
        }
        Err(e) if e.kind == ErrorKind::Forbidden => op.err("This role is not self-assignable"),
        Err(e) if e.kind == ErrorKind::Conflict => op.err(&e.message),
        Err(_) => op.err(if add {
            "Failed to assign role"
        } else {
            "Failed to remove role"
        }),
    }
}

async fn user_roles_set(op: Op) -> Frames {
    let Some(name) = op.text("user").filter(|u| !u.is_empty()) else {
        return op.err("User parameter is required");
    };
    let Some(list) = op.body.get("roles").and_then(Value::as_array) else {
        return op.err("Roles list is required");
    };
    let Some(user) = op
        .world
        .store
        .user_by_name(&name)
        .ok()
        .flatten()
        .filter(|u| op.shared.is_member(u.id))
    else {
        return op.err(s::USER_NOT_FOUND);
    };
    let mut ids = Vec::new();
    for r in list {
        let r = r.as_str().unwrap_or_default();
        if PROTECTED.contains(&r) {
            continue;
        }
        match role_by(&op, Some(r.to_string())) {
            Some(role) if role.id != op.guild => ids.push(role.id),
            _ => return op.err(&format!("Role '{r}' does not exist")),
        }
    }
    let command = Command::SetMemberRoles {
        guild_id: op.guild,
        user_id: user.id,
        roles: ids,
    };
    match op.exec(command).await {
        // Everyone, the requester included, hears it as `user_roles_get`.
        Ok(_) => Vec::new(),
        Err(e) => denied(&op, &e, "manage_users"),
    }
}

/// `user_roles_get` as broadcast after a change.
pub(super) fn member_roles_frame(
    shared: &crate::guild::GuildShared,
    username: &str,
    user: Id,
) -> Map<String, Value> {
    let (roles, color) = roles_of(shared, user);
    frame::reply(
        "user_roles_get",
        [
            ("user", json!(username)),
            ("roles", json!(roles)),
            ("color", json!(color)),
            ("global", json!(true)),
        ],
    )
}

/// `role_reorder`: the roles named, in this order, above the others.
async fn reorder(op: Op) -> Frames {
    let Some(list) = op.body.get("roles").and_then(Value::as_array).cloned() else {
        return op.err("Roles array is required");
    };
    let mut ordered = Vec::new();
    for entry in &list {
        let key = match entry {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if PROTECTED.contains(&key.as_str()) {
            continue;
        }
        match role_by(&op, Some(key)) {
            Some(r) if r.id != op.guild => ordered.push(r),
            _ => return op.err("Failed to reorder roles"),
        }
    }
    for (i, role) in ordered.iter().enumerate() {
        let patch = RolePatch {
            position: Some(i as i32 + 1),
            ..RolePatch::default()
        };
        if let Err(e) = op
            .exec(Command::UpdateRole {
                role_id: role.id,
                patch,
            })
            .await
        {
            return denied(&op, &e, "manage_roles");
        }
    }
    let names: Vec<Value> = ordered.iter().map(|r| json!(r.name)).collect();
    op.reply([("roles", Value::Array(names))])
}

async fn role_permissions(op: Op) -> Frames {
    let key = op.text("id").or_else(|| op.text("name"));
    if key.is_none() {
        return op.err("Role id or name is required");
    }
    if key.as_deref() == Some(OWNER) {
        return op.err(&format!("Cannot manage protected role '{OWNER}'"));
    }
    let Some(role) = role_by(&op, key) else {
        return op.err("Role not found");
    };
    let name = if role.id == op.guild {
        EVERYONE.to_string()
    } else {
        role.name.clone()
    };
    if op.cmd == "role_permissions_get" {
        return op.reply([
            ("id", json!(role.id)),
            ("name", json!(name)),
            (
                "permissions",
                json!(role_permission_names(role.permissions)),
            ),
        ]);
    }
    let Some(list) = op.body.get("permissions").and_then(Value::as_array) else {
        return op.err("Permissions must be an array");
    };
    let bits = match bits_of(list) {
        Ok(b) => b,
        Err(e) => return op.err(&e),
    };
    let patch = RolePatch {
        permissions: Some(bits),
        ..RolePatch::default()
    };
    match op
        .exec(Command::UpdateRole {
            role_id: role.id,
            patch,
        })
        .await
    {
        Ok(_) => op.reply([
            ("id", json!(role.id)),
            ("name", json!(name)),
            ("permissions", json!(role_permission_names(bits))),
            ("updated", json!(true)),
        ]),
        Err(e) => denied(&op, &e, "manage_roles"),
    }
}
