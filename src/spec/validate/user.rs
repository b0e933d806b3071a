//! The user the image runs as (docs/rules.md, "The user").

use serde_saphyr::Spanned;

use crate::defaults;
use crate::rules;
use crate::spec::model::User;
use crate::spec::raw::RawSpec;

use super::Validator;

impl Validator<'_> {
    pub(super) fn user(&mut self, raw: &RawSpec) -> User {
        let uid = self.id("user.uid", raw.user.uid.as_ref());
        let gid = self.id("user.gid", raw.user.gid.as_ref());
        User { uid, gid }
    }

    pub(super) fn id(&mut self, field: &str, value: Option<&Spanned<i64>>) -> u32 {
        let Some(value) = value else {
            return defaults::UID;
        };
        match value.value {
            0 => self.error(
                rules::ROOT_USER,
                value,
                format!("{field} 0 is root"),
                format!("pick a numeric id above 0, for example {}; running as root is what fabuild exists to prevent", defaults::UID),
            ),
            n if !(1..=2_147_483_646).contains(&n) => self.error(
                rules::ID_RANGE,
                value,
                format!("{field} {n} is out of range"),
                "use an id from 1 to 2147483646",
            ),
            n => return u32::try_from(n).unwrap_or(defaults::UID),
        }
        defaults::UID
    }
}
