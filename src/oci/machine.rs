//! The processor architectures fabuild builds for, and what each means in the places the
//! build and `verify` look: OCI's name, the wheel tags' name, the ELF `e_machine` of its
//! binaries, the Debian multiarch directory and the dynamic loaders of glibc and musl.

use super::Platform;

/// A machine fabuild can build an image for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Machine {
    X86_64,
    Aarch64,
}

/// ELF `e_machine` values (the System V ABI's registry).
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

impl Machine {
    /// The machine of an OCI platform (`linux/amd64`, `linux/arm64`, `linux/arm64/v8`).
    pub fn of(platform: &Platform) -> Result<Self, String> {
        let known = "fabuild builds linux/amd64 and linux/arm64";
        if platform.os != "linux" {
            return Err(format!("{platform}: {known}"));
        }
        match (platform.arch.as_str(), platform.variant.as_deref()) {
            ("amd64", None) => Ok(Self::X86_64),
            ("arm64", None | Some("v8")) => Ok(Self::Aarch64),
            _ => Err(format!("{platform}: {known}")),
        }
    }

    /// The machine of an ELF `e_machine` value, when fabuild knows it.
    pub fn of_elf(e_machine: u16) -> Option<Self> {
        match e_machine {
            EM_X86_64 => Some(Self::X86_64),
            EM_AARCH64 => Some(Self::Aarch64),
            _ => None,
        }
    }

    /// The platform as the image's index and config write it (arm64 with its variant,
    /// `v8`, as the official images do).
    pub fn platform(self) -> Platform {
        let (arch, variant) = match self {
            Self::X86_64 => ("amd64", None),
            Self::Aarch64 => ("arm64", Some("v8".to_owned())),
        };
        Platform {
            os: "linux".to_owned(),
            arch: arch.to_owned(),
            variant,
        }
    }

    /// The name in wheel tags and `uname -m`.
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    pub fn e_machine(self) -> u16 {
        match self {
            Self::X86_64 => EM_X86_64,
            Self::Aarch64 => EM_AARCH64,
        }
    }

    /// Debian's multiarch tuple: the directory under /lib and /usr/lib.
    pub fn triplet(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-linux-gnu",
            Self::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// glibc's dynamic loader, relative to the root.
    pub fn glibc_loader(self) -> &'static str {
        match self {
            Self::X86_64 => "lib64/ld-linux-x86-64.so.2",
            Self::Aarch64 => "lib/ld-linux-aarch64.so.1",
        }
    }

    /// musl's dynamic loader, absolute.
    pub fn musl_loader(self) -> &'static str {
        match self {
            Self::X86_64 => "/lib/ld-musl-x86_64.so.1",
            Self::Aarch64 => "/lib/ld-musl-aarch64.so.1",
        }
    }

    /// The machine fabuild itself runs on, when it is one it builds for.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::X86_64),
            "aarch64" => Some(Self::Aarch64),
            _ => None,
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_name_their_machines() {
        let p = |s: &str| Platform::parse(s).unwrap();
        assert_eq!(Machine::of(&p("linux/amd64")), Ok(Machine::X86_64));
        assert_eq!(Machine::of(&p("linux/arm64")), Ok(Machine::Aarch64));
        assert_eq!(Machine::of(&p("linux/arm64/v8")), Ok(Machine::Aarch64));
        assert!(Machine::of(&p("linux/arm/v7")).is_err());
        assert!(Machine::of(&p("windows/amd64")).is_err());
        assert_eq!(Machine::Aarch64.platform().to_string(), "linux/arm64/v8");
        assert_eq!(Machine::X86_64.platform().to_string(), "linux/amd64");
        assert_eq!(Machine::of_elf(183), Some(Machine::Aarch64));
        assert_eq!(Machine::of_elf(62), Some(Machine::X86_64));
        assert_eq!(Machine::of_elf(3), None);
    }
}
