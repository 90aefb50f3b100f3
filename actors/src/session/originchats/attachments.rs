//! Attachments over the WebSocket (reference §10.9): the common file store,
//! seen as OriginChats attachments.

use serde_json::json;
use switchboard_protocols::originchats::objects;
use switchboard_protocols::Id;

use super::commands::{Frames, Op};

pub(super) async fn run(op: Op) -> Frames {
    let Some(id) = op.id("attachment_id") else {
        return op.err(&format!(
            "Invalid {} command: attachment_id is required",
            op.cmd
        ));
    };
    let record = op
        .world
        .store
        .file(id)
        .ok()
        .flatten()
        .filter(|f| op.world.may_read_file(op.user.id, f).unwrap_or(false));
    let Some(record) = record else {
        return op.err("Attachment not found or expired");
    };
    if op.cmd == "attachment_get" {
        return vec![switchboard_protocols::originchats::frame::reply(
            "attachment_info",
            [("attachment", objects::attachment(&record.attachment()))],
        )];
    }
    if record.uploader_id != op.user.id && op.shared.owner() != op.user.id {
        return op.err("You can only delete your own attachments");
    }
    let attached = !op
        .world
        .store
        .file_channels(id)
        .unwrap_or_default()
        .is_empty();
    let deleted = !attached && delete(&op, id).await;
    if !deleted {
        return op.err("Failed to delete attachment");
    }
    vec![switchboard_protocols::originchats::frame::reply(
        "attachment_deleted",
        [("attachment_id", json!(id)), ("deleted", json!(true))],
    )]
}

async fn delete(op: &Op, id: Id) -> bool {
    match op.world.store.delete_file(id) {
        Ok(Some(_)) => op.world.store.commit().await.is_ok(),
        _ => false,
    }
}
