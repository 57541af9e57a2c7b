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
        let evolution = self.evolution(package);
        let evolution_items = evolution.items;
        let package_items = evolution.package_items;
        quote! {
            #server_enum
            #client_enum
            #evolution_items

            /// Every message version of this package in header order:
            /// `(header, message name, version, direction)`, where direction
            /// is `"server"`, `"client"` or `"both"` (who may send it).
            pub const HEADERS: &[(::tagwire::Header, &str, u32, &str)] = &[ #(#rows),* ];

            /// Hash of this package's wire shape (every message version's
            /// header and fields): peers with equal fingerprints agree on
            /// every frame.
            pub const PROTOCOL_FINGERPRINT: &str = #fingerprint;

            /// This package as the runtime sees it: the server and client
            /// of `tagwire` take it as their type parameter
            /// (`Server::<Package, _>`).
            #[derive(Debug, Clone, Copy, Default)]
            pub struct Package;

            impl ::tagwire::Package for Package {
                type Client = ClientMessage;
                type Server = ServerMessage;
                const NAME: &'static str = #package_name;
                const FINGERPRINT: &'static str = PROTOCOL_FINGERPRINT;
                fn headers() -> Vec<::tagwire::Header> {
                    HEADERS.iter().map(|(header, ..)| *header).collect()
                }
                #rate_limits
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
        if messages.is_empty() {
            // No message goes this way. An uninhabited enum still implements
            // Protocol, so code generic over both directions compiles: it can
            // never be built or encoded (`match *self {}`), and decoding
            // checks the frame like any protocol, then rejects every header
            // as unknown.
            let doc = format!(" {doc}");
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

                impl ::tagwire::Protocol for #enum_name {
                    fn header(&self) -> ::tagwire::Header {
                        match *self {}
                    }
                    fn encode_text(&self, _out: &mut String) {
                        match *self {}
                    }
                    fn encode_binary(&self, _out: &mut Vec<u8>) {
                        match *self {}
                    }
                    fn decode_text_with(frame: &str, limits: &::tagwire::Limits) -> Result<Self, ::tagwire::DecodeError> {
                        Err(::tagwire::__private::TextReader::new(frame, limits)?.unknown_header())
                    }
                    fn decode_binary_with(frame: &[u8], limits: &::tagwire::Limits) -> Result<Self, ::tagwire::DecodeError> {
                        Err(::tagwire::__private::BinaryReader::new(frame, limits)?.unknown_header())
                    }
                }
            };
        }
        let variants: Vec<_> = messages.iter().map(|m| ident(&m.type_name())).collect();
        let checked: Vec<_> = messages
            .iter()
            .filter(|m| self.fields_constrained(&m.fields))
            .map(|m| ident(&m.type_name()))
            .collect();
        // Only protocols with constraints check them: the others keep
        // `Protocol::validate`'s default and decode exactly as before.
        let (validate, text_check, binary_check) = if checked.is_empty() {
            (TokenStream::new(), TokenStream::new(), TokenStream::new())
        } else {
            let rest = (checked.len() < messages.len())
                .then(|| quote!(_ => ::std::result::Result::Ok(()),));
            let check = |position: TokenStream| {
                quote! {
                    ::tagwire::Protocol::validate(&message)
                        .map_err(|v| ::tagwire::DecodeError::constraint(#position, v))?;
                }
            };
            (
                quote! {
                    fn validate(&self) -> ::std::result::Result<(), ::tagwire::Violation> {
                        match self {
                            #( Self::#checked(m) => m.validate(), )*
                            #rest
                        }
                    }
                },
                check(quote!(::tagwire::Position::Token { index: 0, byte: 0 })),
                check(quote!(::tagwire::Position::Byte(0))),
            )
        };
        let variant_docs = messages.iter().map(|m| {
            let header = m.header.map_or_else(|| "??".to_string(), |h| h.to_string());
            format!(" `{}` v{} (header `{header}`).", m.name, m.version)
        });
        let doc = format!(" {doc}");
        quote! {
            #[doc = #doc]
            #derives
            #attrs
            #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
            pub enum #enum_name {
                #( #[doc = #variant_docs] #variants(#variants), )*
            }

            #(
                impl From<#variants> for #enum_name {
                    fn from(message: #variants) -> Self {
                        Self::#variants(message)
                    }
                }
            )*

            impl ::tagwire::Protocol for #enum_name {
                fn header(&self) -> ::tagwire::Header {
                    match self {
                        #( Self::#variants(_) => #variants::HEADER, )*
                    }
                }
                #validate
                fn encode_text(&self, out: &mut String) {
                    let mut w = ::tagwire::__private::TextWriter::new(out, self.header());
                    match self {
                        #( Self::#variants(m) => m.__encode_text(&mut w), )*
                    }
                }
                fn encode_binary(&self, out: &mut Vec<u8>) {
                    let mut w = ::tagwire::__private::BinaryWriter::new(out, self.header());
                    match self {
                        #( Self::#variants(m) => m.__encode_binary(&mut w), )*
                    }
                }
                fn decode_text_with(frame: &str, limits: &::tagwire::Limits) -> Result<Self, ::tagwire::DecodeError> {
                    let mut r = ::tagwire::__private::TextReader::new(frame, limits)?;
                    let message = match r.header() {
                        #( #variants::HEADER => Self::#variants(#variants::__decode_text(&mut r)?), )*
                        _ => return Err(r.unknown_header()),
                    };
                    r.finish()?;
                    #text_check
                    Ok(message)
                }
                fn decode_binary_with(frame: &[u8], limits: &::tagwire::Limits) -> Result<Self, ::tagwire::DecodeError> {
                    let mut r = ::tagwire::__private::BinaryReader::new(frame, limits)?;
                    let message = match r.header() {
                        #( #variants::HEADER => Self::#variants(#variants::__decode_binary(&mut r)?), )*
                        _ => return Err(r.unknown_header()),
                    };
                    r.finish()?;
                    #binary_check
                    Ok(message)
                }
            }
        }
    }
}
