DROP TABLE webhook_deliveries;
DROP TABLE notification_outbox;
DROP TABLE webhooks;
