//! The protocol enums, header table and fingerprint of a package.

use super::{Context, ident};
use crate::ir::{MessageVersion, Package};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl Context<'_> {
    pub(super) fn protocol(&self, package: &Package) -> TokenStream {
        let server: Vec<&MessageVersion> = package
            .messages
            .iter()
            .filter(|m| m.direction.server_sends())
            .collect();
        let client: Vec<&MessageVersion> = package
            .messages
            .iter()
            .filter(|m| m.direction.client_sends())
            .collect();
        let server_enum = self.protocol_enum(
            package,
            "ServerMessage",
            "Every message the server sends: what a client decodes and a server encodes.",
            &server,
        );
        let client_enum = self.protocol_enum(
            package,
            "ClientMessage",
            "Every message the client sends: what a server decodes and a client encodes.",
            &client,
        );
        let mut sorted: Vec<&MessageVersion> = package.messages.iter().collect();
        sorted.sort_by_key(|m| m.header.map(|h| h.index()));
        let rows = sorted.iter().map(|m| {
            let header = ident(&m.type_name());
            let name = &m.name;
            let version = proc_macro2::Literal::u32_unsuffixed(m.version);
            let direction = m.direction.as_str();
            quote!((#header::HEADER, #name, #version, #direction))
        });
        let fingerprint = &package.fingerprint;
        let package_name = &package.name;
        // `@rate` of the schema: one quota per message version clients send.
        let quotas: Vec<TokenStream> = sorted
            .iter()
            .filter(|m| m.direction.client_sends())
            .filter_map(|m| {
                let rate = m.rate?;
                let header = ident(&m.type_name());
                let (count, secs, burst) = (rate.count, u64::from(rate.period_secs), rate.burst);
                Some(quote! {
                    (#header::HEADER, ::tagwire::Quota::new(#count, ::std::time::Duration::from_secs(#secs)).with_burst(#burst))
                })
            })
            .collect();
        let rate_limits = if quotas.is_empty() {
            TokenStream::new()
        } else {
            quote! {
                /// The schema's `@rate` limits: one token bucket per message
                /// version, per connection (a server's own configuration
                /// overrides them).
                fn rate_limits() -> Vec<(::tagwire::Header, ::tagwire::Quota)> {
                    ::std::vec::Vec::from([ #(#quotas),* ])
                }
            }
        };
        // `presence` declarations: the frames a server takes as a member's state.
        let presence: Vec<TokenStream> = sorted
            .iter()
            .filter(|m| m.presence)
            .map(|m| {
                let header = ident(&m.type_name());
                quote!(#header::HEADER)
            })
            .collect();
        let (presence_const, presence_item) = if presence.is_empty() {
            (TokenStream::new(), TokenStream::new())
        } else {
            (
                quote! {
                    /// The headers of the presence states, in header order: the
                    /// only frames a server accepts as a room member's presence.
                    #[allow(dead_code)]
                    pub const PRESENCE: &[::tagwire::Header] = &[ #(#presence),* ];
                },
                quote! {
                    const PRESENCE: &'static [::tagwire::Header] = PRESENCE;
                },
            )
        };
        let evolution = self.evolution(package);
        let evolution_items = evolution.items;
        let package_items = evolution.package_items;
        let server_ref = self.protocol_ref("ServerMessage", &server);
        let client_ref = self.protocol_ref("ClientMessage", &client);
        quote! {
            #server_enum
            #client_enum
            #server_ref
            #client_ref
            #evolution_items

            /// Every message version in header order: `(header, message name,
            /// version, direction)`, direction being who may send it.
            #[allow(dead_code)]
            pub const HEADERS: &[(::tagwire::Header, &str, u32, &str)] = &[ #(#rows),* ];

            /// Hash of every message version's header and fields: peers with
            /// equal fingerprints agree on every frame.
            #[allow(dead_code)]
            pub const PROTOCOL_FINGERPRINT: &str = #fingerprint;

            #presence_const

            /// This package as the runtime's server and client take it
            /// (`Server::<Package, _>`).
            #[derive(Debug, Clone, Copy, Default)]
            #[allow(dead_code)]
            pub struct Package;

            impl ::tagwire::Package for Package {
                type Client = ClientMessage;
                type Server = ServerMessage;
                const NAME: &'static str = #package_name;
                const FINGERPRINT: &'static str = PROTOCOL_FINGERPRINT;
                const HEADERS: &'static [(::tagwire::Header, &'static str, u32, &'static str)] = HEADERS;
                #rate_limits
                #presence_item
                #package_items
            }
        }
    }

    fn protocol_enum(
        &self,
        package: &Package,
        name: &str,
        doc: &str,
        messages: &[&MessageVersion],
    ) -> TokenStream {
        let attrs = self.options.attributes_for(&package.name, &[name]);
        let derives = self.derives(TokenStream::new());
        let enum_name = format_ident!("{name}");
        let variants: Vec<_> = messages.iter().map(|m| ident(&m.type_name())).collect();
        // Only versions with constraints are checked: the others keep
        // `Protocol::validate`'s default.
        let checked: Vec<_> = messages
            .iter()
            .filter(|m| self.fields_constrained(&m.fields))
            .map(|m| ident(&m.type_name()))
            .collect();
        let validate = (!checked.is_empty()).then(|| quote!(validate { #(#checked),* }));
        let impls = quote!(tw::protocol!(#enum_name { #(#variants),* } #validate););
        let doc = format!(" {doc}");
        if messages.is_empty() {
            // No message goes this way. An uninhabited enum still implements
            // Protocol, so code generic over both directions compiles: it can
            // never be built or encoded, and decoding checks the frame like
            // any protocol, then rejects every header as unknown.
            let note = " This package has no such message, so the enum has no variants: encoding is \
                        unreachable and decoding rejects every frame (`unknown_header`, once the frame's size \
                        and header bytes are checked).";
            return quote! {
                #[doc = #doc]
                #[doc = ""]
                #[doc = #note]
                #derives
                #attrs
                pub enum #enum_name {}
                #impls
            };
        }
        let variant_docs = messages.iter().map(|m| {
            let header = m.header.map_or_else(|| "??".to_string(), |h| h.to_string());
            format!(" `{}` v{} (header `{header}`).", m.name, m.version)
        });
        quote! {
            #[doc = #doc]
            #derives
            #attrs
            #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
            pub enum #enum_name {
                #( #[doc = #variant_docs] #variants(#variants), )*
            }
            #impls
        }
    }
}
