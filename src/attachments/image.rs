//! Photos as evidence: recognise the format by its bytes, read when and where it was taken from
//! EXIF, then remove EXIF (and XMP, IPTC, comments, maker segments and further frames, which can
//! carry the same GPS position or the photographer's name) before the photo is stored or served.

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
        Format::Jpeg => strip_jpeg(&bytes).map(Bytes::from),
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

/// The JPEG segments kept, by marker and identifier: the JFIF header (without its thumbnail),
/// the colour profile and Adobe's colour-transform flag, which decoders need to show the
/// colours right. Everything else among APP0..APP15 (EXIF, XMP, IPTC, MPF, maker notes, JFXX
/// thumbnails…) and every comment (COM) goes, wherever it stands, and so does anything after
/// the first image's end: a multi-picture (MPO) file carries its other frames, each with their
/// own EXIF, there.
fn keeps_app_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        0xE0 => contents.starts_with(b"JFIF\0"),
        0xE2 => contents.starts_with(b"ICC_PROFILE\0"),
        0xEE => contents.starts_with(b"Adobe"),
        _ => false,
    }
}

/// Re-writes a JPEG marker by marker (ITU T.81 B.1): segments with a length are copied or
/// dropped whole, entropy-coded data after each SOS is copied up to the next marker that is
/// neither byte stuffing (FF 00) nor a restart (FF D0..D7), and output ends at the first EOI.
/// `None` when the stream is truncated or not a JPEG.
fn strip_jpeg(b: &[u8]) -> Option<Vec<u8>> {
    const SOI: u8 = 0xD8;
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    const COM: u8 = 0xFE;
    if !b.starts_with(&[0xFF, SOI]) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let mut i = 2;
    loop {
        // Fill bytes (FF FF …) may precede a marker.
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = b[i];
        i += 1;
        match marker {
            EOI => {
                out.extend_from_slice(&[0xFF, EOI]);
                return Some(out);
            }
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => out.extend_from_slice(&[0xFF, marker]),
            SOI | 0x00 => return None,
            _ => {
                let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
                if len < 2 {
                    return None;
                }
                let segment = b.get(i..i + len)?;
                i += len;
                let drop = marker == COM
                    || ((0xE0..=0xEF).contains(&marker)
                        && !keeps_app_segment(marker, &segment[2..]));
                if !drop {
                    out.extend_from_slice(&[0xFF, marker]);
                    if marker == 0xE0 {
                        out.extend_from_slice(&jfif_without_thumbnail(segment));
                    } else {
                        out.extend_from_slice(segment);
                    }
                }
                if marker == SOS {
                    // Copy the scan's entropy-coded bytes up to the next real marker.
                    let start = i;
                    loop {
                        let at = b.get(i..)?.iter().position(|&x| x == 0xFF)? + i;
                        match *b.get(at + 1)? {
                            0x00 | 0xD0..=0xD7 => i = at + 2,
                            _ => {
                                i = at;
                                break;
                            }
                        }
                    }
                    out.extend_from_slice(&b[start..i]);
                }
            }
        }
    }
}

/// The JFIF APP0 header (length, "JFIF\0", version, density) with its optional thumbnail cut
/// off: 16 bytes, thumbnail size 0×0.
fn jfif_without_thumbnail(segment: &[u8]) -> Vec<u8> {
    if segment.len() < 16 {
        return segment.to_vec();
    }
    let mut s = segment[..16].to_vec();
    s[0..2].copy_from_slice(&16u16.to_be_bytes());
    s[14] = 0;
    s[15] = 0;
    s
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
