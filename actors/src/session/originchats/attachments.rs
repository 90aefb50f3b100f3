//! Attachments over the WebSocket (reference §10.9): the common file store,
//! seen as OriginChats attachments.

use serde_json::json;
use switchboard_protocols::command::Command;
use switchboard_protocols::originchats::objects;

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
    // The owner refuses what is still attached (or, past the check above,
    // anything else): the reference words all of that one way.
    if op.exec(Command::DeleteFile { file_id: id }).await.is_err() {
        return op.err("Failed to delete attachment");
    }
    vec![switchboard_protocols::originchats::frame::reply(
        "attachment_deleted",
        [("attachment_id", json!(id)), ("deleted", json!(true))],
    )]
}
