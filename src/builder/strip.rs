//! Dropping the debug information from a shared object without binutils: the content
//! `strip --strip-debug` removes, with the section table left in place.
//!
//! uvloop's wheels ship their extension module with its DWARF debug information: 13.6 MB,
//! of which 1.9 MB is code, data and the symbol table. Nothing in a running image reads the
//! rest: the dynamic loader maps the program segments and resolves through `.dynsym`. The
//! symbol table stays, so profilers (`perf`, `py-spy --native`) still name native frames.
//! The same algorithm runs in the generated Dockerfile (`templates/strip.py.j2`), and a
//! test holds the two to the same bytes.
//!
//! The rewrite is deliberately narrow. Every byte up to the end of the loaded segments is
//! kept as it is; only non-allocated sections after them move. The debug sections keep
//! their headers, emptied, so no section is renumbered and every symbol and link that names
//! a section by index still names the same one (binutils drops the headers and rewrites
//! the symbol table instead). Any layout this does not recognise (not a 64-bit shared
//! object, extended section numbering, a kept section that relocates or links to debug
//! information, unloaded data between loaded parts) is left untouched: `strip` returns
//! `None`.

const SHF_ALLOC: u64 = 0x2;
const SHF_INFO_LINK: u64 = 0x40;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHN_LORESERVE: u16 = 0xff00;
const ET_DYN: u16 = 3;
const EHDR: usize = 64;
const PHENT: usize = 56;
const SHENT: usize = 64;
/// Larger alignments for unloaded sections are not seen in practice; refusing them keeps
/// the padding bounded.
const MAX_ALIGN: u64 = 4096;

/// The stripped file, or `None` when there is nothing to drop or the layout is one this
/// does not rewrite.
pub fn strip(data: &[u8]) -> Option<Vec<u8>> {
    let elf = Elf::parse(data)?;
    let sections = elf.sections()?;
    let debug = debug_sections(&elf, &sections)?;
    if !debug.iter().any(|d| *d) {
        return None;
    }
    let load_end = load_end(&elf, &sections)?;
    rewrite(&elf, &sections, &debug, load_end)
}

/// Which sections are emptied: the unloaded debug sections that hold anything.
fn debug_sections(elf: &Elf<'_>, sections: &[Section]) -> Option<Vec<bool>> {
    let names = elf.section(sections, elf.shstrndx)?;
    let mut debug = vec![false; sections.len()];
    for (i, s) in sections.iter().enumerate().skip(1) {
        if s.flags & SHF_ALLOC == 0 && s.kind != SHT_NOBITS && s.size > 0 {
            let rest = names.get(usize::try_from(s.name).ok()?..)?;
            let name = &rest[..rest.iter().position(|b| *b == 0)?];
            debug[i] = name.starts_with(b".debug") || name.starts_with(b".zdebug");
        }
    }
    Some(debug)
}

/// Where everything the loader reads ends: headers, segments and allocated sections.
fn load_end(elf: &Elf<'_>, sections: &[Section]) -> Option<usize> {
    let mut end = EHDR.max(elf.phoff.checked_add(elf.phnum.checked_mul(PHENT)?)?);
    for p in 0..elf.phnum {
        let at = elf.phoff + p * PHENT;
        let segment_end = elf.u64(at + 8)?.checked_add(elf.u64(at + 32)?)?;
        end = end.max(usize::try_from(segment_end).ok()?);
    }
    for s in sections {
        if s.flags & SHF_ALLOC != 0 && s.kind != SHT_NOBITS {
            end = end.max(s.end()?);
        }
    }
    (end <= elf.data.len()).then_some(end)
}

/// The file with the `debug` sections emptied: bytes up to `load_end` as they are, then the
/// other unloaded sections, then the section table (same count, same order).
fn rewrite(
    elf: &Elf<'_>,
    sections: &[Section],
    debug: &[bool],
    load_end: usize,
) -> Option<Vec<u8>> {
    let data = elf.data;
    let is_debug =
        |index: u32| usize::try_from(index).ok().and_then(|i| debug.get(i)) == Some(&true);
    for s in sections {
        if s.kind != SHT_NOBITS && s.end()? > data.len() {
            return None;
        }
        let unloaded_data = s.flags & SHF_ALLOC == 0 && s.kind != SHT_NOBITS && s.size > 0;
        if unloaded_data && usize::try_from(s.offset).ok()? < load_end {
            return None;
        }
        // Relocations for debug information, or a section ordered by one: not for this.
        let relocates = s.kind == SHT_REL || s.kind == SHT_RELA || s.flags & SHF_INFO_LINK != 0;
        if is_debug(s.link) || (relocates && is_debug(s.info)) {
            return None;
        }
    }

    let mut out = data[..load_end].to_vec();
    let mut headers = Vec::with_capacity(sections.len() * SHENT);
    for (i, s) in sections.iter().enumerate() {
        let mut header = data[s.at..s.at + SHENT].to_vec();
        if s.flags & SHF_ALLOC == 0 && i != 0 {
            let offset = if debug[i] || s.kind == SHT_NOBITS || s.size == 0 {
                out.len()
            } else {
                if s.align > MAX_ALIGN {
                    return None;
                }
                pad_to(&mut out, usize::try_from(s.align.max(1)).ok()?);
                let at = out.len();
                out.extend_from_slice(elf.section(sections, i)?);
                at
            };
            elf.put_u64(&mut header, 24, offset as u64);
            if debug[i] {
                elf.put_u64(&mut header, 32, 0);
            }
        }
        headers.extend_from_slice(&header);
    }
    pad_to(&mut out, 8);
    let shoff = out.len() as u64;
    out.extend_from_slice(&headers);
    elf.put_u64(&mut out, 40, shoff);
    Some(out)
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    let rem = out.len() % align;
    if rem != 0 {
        out.resize(out.len() + align - rem, 0);
    }
}

struct Elf<'a> {
    data: &'a [u8],
    big_endian: bool,
    phoff: usize,
    phnum: usize,
    shoff: usize,
    shnum: usize,
    shstrndx: u16,
}

struct Section {
    /// Where its header is in the file.
    at: usize,
    name: u32,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
}

impl Section {
    fn end(&self) -> Option<usize> {
        usize::try_from(self.offset.checked_add(self.size)?).ok()
    }
}

impl<'a> Elf<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        if data.len() < EHDR || data[..4] != *b"\x7fELF" || data[4] != 2 || data[6] != 1 {
            return None;
        }
        let big_endian = match data[5] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let mut elf = Elf {
            data,
            big_endian,
            phoff: 0,
            phnum: 0,
            shoff: 0,
            shnum: 0,
            shstrndx: 0,
        };
        if elf.u16(16)? != ET_DYN
            || usize::from(elf.u16(54)?) != PHENT
            || usize::from(elf.u16(58)?) != SHENT
        {
            return None;
        }
        elf.phoff = usize::try_from(elf.u64(32)?).ok()?;
        elf.shoff = usize::try_from(elf.u64(40)?).ok()?;
        elf.phnum = usize::from(elf.u16(56)?);
        elf.shnum = usize::from(elf.u16(60)?);
        elf.shstrndx = elf.u16(62)?;
        // Extended numbering (0 sections, or an escaped string table index) is not handled.
        if elf.shoff == 0 || elf.shnum == 0 || elf.shstrndx >= SHN_LORESERVE {
            return None;
        }
        if usize::from(elf.shstrndx) >= elf.shnum
            || elf.shoff.checked_add(elf.shnum.checked_mul(SHENT)?)? > data.len()
            || elf.phoff.checked_add(elf.phnum.checked_mul(PHENT)?)? > data.len()
        {
            return None;
        }
        Some(elf)
    }

    fn sections(&self) -> Option<Vec<Section>> {
        (0..self.shnum)
            .map(|i| {
                let at = self.shoff + i * SHENT;
                Some(Section {
                    at,
                    name: self.u32(at)?,
                    kind: self.u32(at + 4)?,
                    flags: self.u64(at + 8)?,
                    offset: self.u64(at + 24)?,
                    size: self.u64(at + 32)?,
                    link: self.u32(at + 40)?,
                    info: self.u32(at + 44)?,
                    align: self.u64(at + 48)?,
                })
            })
            .collect()
    }

    /// A section's bytes (none for `SHT_NOBITS`).
    fn section(&self, sections: &[Section], index: impl TryInto<usize>) -> Option<&'a [u8]> {
        let s = sections.get(index.try_into().ok()?)?;
        if s.kind == SHT_NOBITS {
            return Some(&[]);
        }
        self.data.get(usize::try_from(s.offset).ok()?..s.end()?)
    }

    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.bytes(at)?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.bytes(at)?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.bytes(at)?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    fn put_u64(&self, buf: &mut [u8], at: usize, v: u64) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        buf[at..at + 8].copy_from_slice(&b);
    }
}
