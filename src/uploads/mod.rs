//! Resumable photo uploads (tus 1.0.0: core, creation, expiration, checksum) under
//! `/api/v1/uploads`, for inspectors on the plateau whose link drops every few seconds and for
//! reporters adding photos to their public report. An upload is tied to its case when it is
//! created, and becomes an attachment (through `attachments::ingest`, exactly like a one-shot
//! photo) only once its last byte arrived.
//!
//! Several stateless servers share one database and one photo directory, so nothing lives in a
//! server's memory: the upload's offset and its writer's lease are rows (`store`), its bytes
//! files under `<data dir>/uploads/<id>/` (`files`). Each PATCH writes a file of its own and
//! moves the offset forward as its bytes reach the disk, under a lease that a later PATCH may
//! take over from a writer that went silent; a superseded writer's progress is refused by the
//! database, so two PATCHes on one upload can never interleave their bytes.

pub mod files;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod tus;
