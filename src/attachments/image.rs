//! Photos as evidence: recognise the format by its bytes, read when and where it was taken from
//! EXIF, then remove EXIF (and XMP/text metadata, which can carry the same GPS position) before
//! the photo is stored or served.

use actix_web::web::Bytes;
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use img_parts::ImageEXIF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
        }
    }
}

/// The format the bytes really are, whatever the upload declared.
pub fn detect(b: &[u8]) -> Option<Format> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else {
        None
    }
}

/// What EXIF said about the capture.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Capture {
    /// UTC; a capture time without offset is read in the deployment's time zone.
    pub taken_at: Option<NaiveDateTime>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

fn dms(
    field: Option<&exif::Field>,
    reference: Option<&exif::Field>,
    negative: &str,
) -> Option<f64> {
    let exif::Value::Rational(parts) = &field?.value else {
        return None;
    };
    if parts.len() < 3 {
        return None;
    }
    let v = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
    let sign = match reference.map(|r| r.display_value().to_string()) {
        Some(r) if r.trim_matches('"').eq_ignore_ascii_case(negative) => -1.0,
        _ => 1.0,
    };
    v.is_finite().then_some(sign * v)
}

pub fn read_capture(bytes: &[u8], tz: chrono_tz::Tz) -> Capture {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return Capture::default();
    };
    use exif::{In, Tag};
    let taken_at = exif
        .get_field(Tag::DateTimeOriginal, In::PRIMARY)
        .and_then(|f| match &f.value {
            exif::Value::Ascii(v) if !v.is_empty() => {
                let mut dt = exif::DateTime::from_ascii(&v[0]).ok()?;
                if let Some(off) = exif.get_field(Tag::OffsetTimeOriginal, In::PRIMARY) {
                    if let exif::Value::Ascii(o) = &off.value {
                        let _ = o.first().map(|o| dt.parse_offset(o));
                    }
                }
                let local =
                    NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?
                        .and_hms_opt(dt.hour.into(), dt.minute.into(), dt.second.into())?;
                Some(match dt.offset {
                    Some(minutes) => local - chrono::Duration::minutes(minutes.into()),
                    None => tz.from_local_datetime(&local).earliest()?.naive_utc(),
                })
            }
            _ => None,
        });
    let lat = dms(
        exif.get_field(Tag::GPSLatitude, In::PRIMARY),
        exif.get_field(Tag::GPSLatitudeRef, In::PRIMARY),
        "S",
    );
    let lng = dms(
        exif.get_field(Tag::GPSLongitude, In::PRIMARY),
        exif.get_field(Tag::GPSLongitudeRef, In::PRIMARY),
        "W",
    );
    let valid = matches!((lat, lng), (Some(a), Some(o)) if (-90.0..=90.0).contains(&a) && (-180.0..=180.0).contains(&o));
    Capture {
        taken_at,
        lat: if valid { lat } else { None },
        lng: if valid { lng } else { None },
    }
}

/// The photo without EXIF, XMP or text metadata; `None` when the container is malformed.
pub fn strip_metadata(format: Format, bytes: Bytes) -> Option<Bytes> {
    match format {
        Format::Jpeg => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(bytes).ok()?;
            jpeg.set_exif(None);
            // APP1 also carries XMP; APP13 carries IPTC (Photoshop).
            jpeg.remove_segments_by_marker(img_parts::jpeg::markers::APP1);
            jpeg.remove_segments_by_marker(img_parts::jpeg::markers::APP13);
            Some(jpeg.encoder().bytes())
        }
        Format::Png => {
            let mut png = img_parts::png::Png::from_bytes(bytes).ok()?;
            png.set_exif(None);
            for kind in [*b"tEXt", *b"zTXt", *b"iTXt"] {
                png.remove_chunks_by_type(kind);
            }
            Some(png.encoder().bytes())
        }
        Format::Webp => {
            let mut webp = img_parts::webp::WebP::from_bytes(bytes).ok()?;
            webp.remove_chunks_by_id(*b"XMP ");
            // Also recomputes the VP8X flags for the chunks that remain.
            webp.set_exif(None);
            Some(webp.encoder().bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_their_bytes() {
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(detect(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(detect(b"GIF89a"), None);
        assert_eq!(detect(b"%PDF-1.7"), None);
        assert_eq!(detect(b""), None);
    }
}
