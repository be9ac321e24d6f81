use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{webhook_deliveries, webhooks};
use crate::vocab::{DeliveryStatus, NotificationKind, WebhookFormat};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: http(s), not this server. For WeCom (企业微信) the group
    /// robot's URL (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`), for DingTalk
    /// (钉钉) `https://oapi.dingtalk.com/robot/send?access_token=…`.
    #[schema(min_length = 1, max_length = 2000, format = "uri")]
    pub url: String,
    /// Signs every delivery (`X-Firegrid-Signature`). For `generic` the server makes one when
    /// it is left out; for `dingtalk` give the robot's 加签 secret (`SEC…`) and the URL is
    /// signed as DingTalk requires. Returned only in the answer to this request.
    #[schema(
        min_length = 16,
        max_length = 200,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{16,200}$"
    )]
    pub secret: Option<String>,
    /// The notification kinds to send; empty or left out: every kind, also kinds added later.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub kinds: Vec<NotificationKind>,
    /// `generic` when left out.
    pub format: Option<WebhookFormat>,
    /// The region whose subtree's events it receives (exactly one of region and organisation).
    pub region_id: Option<i64>,
    /// The organisation whose jurisdiction's events it receives (a police station's
    /// townships, a fire department's counties; where it sits if it has none).
    pub organization_id: Option<i64>,
}

/// A webhook subscription. Its secret is never shown again after creation, and the query of
/// its URL (where WeCom and DingTalk put the robot's key) is masked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub format: WebhookFormat,
    /// Empty: every kind.
    pub kinds: Vec<NotificationKind>,
    pub region_id: Option<i64>,
    pub organization_id: Option<i64>,
    /// Whether deliveries are signed (a secret is set).
    pub signed: bool,
    /// Only in the answer to `POST /webhooks`: keep it to verify signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_by: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub secret: Option<String>,
    pub kinds: String,
    pub format: WebhookFormat,
    pub region_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

impl WebhookRow {
    pub fn kind_list(&self) -> Vec<NotificationKind> {
        self.kinds
            .split(',')
            .filter_map(NotificationKind::parse)
            .collect()
    }

    /// Whether events of `kind` go to this webhook.
    pub fn wants(&self, kind: NotificationKind) -> bool {
        self.kinds.is_empty() || self.kinds.split(',').any(|k| k == kind.as_str())
    }

    pub fn to_api(&self) -> Webhook {
        Webhook {
            id: self.id,
            url: mask_query(&self.url),
            format: self.format,
            kinds: self.kind_list(),
            region_id: self.region_id,
            organization_id: self.organization_id,
            signed: self.secret.is_some(),
            secret: None,
            created_by: self.created_by,
            created_at: self.created_at.and_utc(),
        }
    }
}

/// `…?key=abc&x=1` → `…?key=***&x=***`: robot URLs carry their credential in the query.
pub fn mask_query(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_string(),
        Some((base, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", masked.join("&"))
        }
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// For paging (`?cursor=`).
    pub id: i64,
    /// Sent as `X-Firegrid-Delivery`.
    pub delivery_id: String,
    pub event_id: i64,
    pub kind: NotificationKind,
    pub hazard_id: Option<i64>,
    pub message: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending ones).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was delivered or given up.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub delivery_id: String,
    pub webhook_id: i64,
    pub outbox_id: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}
