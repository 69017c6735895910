//! Rule IDs: the one place that says which rules exist and how their IDs are spelt.

use std::fmt;

/// Declares the rule IDs once: the enum, and each ID's text taken from its variant name, so
/// the two cannot drift apart.
macro_rules! rule_ids {
    ($($id:ident),+ $(,)?) => {
        /// A rule's stable identifier, never reused: `PS` and three digits. Rule modules name
        /// rules by it, so a misspelt ID fails to compile. Variants are declared in ascending
        /// order, so comparing IDs sorts findings as comparing their text would.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId {
            $($id),+
        }

        impl RuleId {
            /// How many rules exist: the length of the catalogue.
            pub const COUNT: usize = [$(RuleId::$id),+].len();

            /// The form users write and reports print, e.g. `PS101`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$id => stringify!($id)),+
                }
            }
        }
    };
}

rule_ids! {
    PS100,
    PS101, PS102, PS103, PS104, PS105, PS106, PS107, PS108, PS109,
    PS201, PS202, PS203, PS204, PS205, PS206, PS207, PS208, PS209,
    PS301, PS302, PS303, PS304, PS305, PS306, PS307, PS308, PS309, PS310,
    PS401, PS402, PS403, PS404, PS405,
    PS501, PS502, PS503, PS504,
    PS601, PS602, PS603, PS604, PS605, PS606,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
