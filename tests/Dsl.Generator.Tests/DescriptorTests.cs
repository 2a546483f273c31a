using System;
using System.Linq;
using System.Reflection;
using Dsl.Generator.Language;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// The descriptors are the one list of the language's types, built-ins and service kinds: each names a runtime
/// member that exists with the arguments the emitter passes, and the diagnostics list what they list.
/// </summary>
public sealed class DescriptorTests
{
    private static readonly Assembly s_runtime = typeof(Dsl.Runtime.Expressions.Builtins).Assembly;

    [Fact]
    public void Every_built_in_calls_a_runtime_member_with_its_arguments()
    {
        var methods = typeof(Dsl.Runtime.Expressions.Builtins).GetMethods(BindingFlags.Public | BindingFlags.Static);
        // canonical_json is the codec's own, generated per object type (CryptoBuiltinsTests runs it).
        foreach (var builtin in Builtins.All.Where(b => !b.OnCodec))
        {
            var candidates = methods.Where(m => m.Name == builtin.RuntimeMember).ToList();
            Assert.True(candidates.Count > 0, $"{builtin.Name}: no Builtins.{builtin.RuntimeMember}");
            var arity = builtin.Implicit.Count + (builtin.Variadic ? 1 : builtin.Parameters.Count);
            Assert.Contains(candidates, m => m.GetParameters().Length == arity);
            // A result that may be absent is nullable at run time too.
            var nullable = candidates.All(m => Nullable.GetUnderlyingType(m.ReturnType) is not null || !m.ReturnType.IsValueType);
            if (builtin.MayBeAbsent) Assert.True(nullable, $"{builtin.Name} may be absent, so Builtins.{builtin.RuntimeMember} returns a nullable");
        }
    }

    [Fact]
    public void Every_service_method_calls_a_member_of_its_kinds_interface()
    {
        foreach (var kind in ServiceKinds.All)
        {
            var name = kind.RuntimeInterface.Replace("global::", "") + (kind.Generic ? "`1" : "");
            var type = s_runtime.GetType(name);
            Assert.True(type is not null, $"{kind.Name}: no {name}");
            foreach (var method in kind.Methods)
            {
                var member = type!.GetMethods().SingleOrDefault(m => m.Name == method.RuntimeMember);
                Assert.True(member is not null, $"{kind.Name}.{method.Name}: no {name}.{method.RuntimeMember}");
                Assert.Equal(method.Parameters.Count + method.Implicit.Count + 1, member!.GetParameters().Length);
                Assert.Equal(typeof(System.Threading.CancellationToken), member.GetParameters().Last().ParameterType);
                foreach (var setting in method.Implicit.Where(i => i.Setting is not null))
                    Assert.Contains(kind.Settings, s => s.Name == setting.Setting);
            }
        }
    }

    [Fact]
    public void Every_type_that_a_machine_keeps_can_be_written_and_read_back()
    {
        var writer = typeof(Dsl.Runtime.Handshakes.HandshakeStateWriter);
        var reader = typeof(Dsl.Runtime.Handshakes.HandshakeStateReader);
        // Declared objects and enums are kept by members the codec generates for each (TypesTests restores them).
        foreach (var type in ValueTypes.All.Where(t => t.Allows(TypePlaces.Kept) && !t.Declared))
        {
            var members = type.Kind == TypeKind.List
                ? ValueTypes.All.Where(e => e.Allows(TypePlaces.ListElement) && !e.Declared).SelectMany(e => new[] { (e.StateListWrite, e.StateListRead) })
                : new[] { (type.StateWrite, type.StateRead) };
            foreach (var (write, read) in members)
            {
                Assert.NotNull(writer.GetMethod(write!));
                Assert.NotNull(reader.GetMethod(read!));
            }
        }
    }

    [Fact]
    public void Every_wire_type_has_its_json_members()
    {
        var encoding = typeof(Dsl.Runtime.Codecs.JsonEncoding);
        var decoding = typeof(Dsl.Runtime.Codecs.JsonDecoding);
        // Declared objects and enums are written and read by members the codec generates for each (see TypesTests).
        foreach (var type in ValueTypes.All.Where(t => t.Allows(TypePlaces.Message) && t.Kind != TypeKind.List && !t.Declared))
        {
            Assert.NotNull(encoding.GetMethod(type.JsonWrite!));
            Assert.NotNull(decoding.GetMethod(type.JsonRead!));
        }
        foreach (var element in ValueTypes.All.Where(t => t.Allows(TypePlaces.ListElement) && !t.Declared))
        {
            Assert.NotNull(encoding.GetMethod(element.JsonListWrite!));
            Assert.NotNull(decoding.GetMethod(element.JsonListRead!));
        }
    }

    [Fact]
    public void The_diagnostics_that_list_names_list_the_descriptors()
    {
        var unknownFunction = GeneratorHarness.Run(DiagnosticTests.Base.Replace("set: { greeting: hello.name }", "set: { greeting: frobnicate() }"));
        var dsl206 = Assert.Single(unknownFunction.SpecDiagnostics);
        foreach (var builtin in Builtins.All) Assert.Contains(builtin.Name, dsl206.GetMessage());

        var unknownKind = GeneratorHarness.Run(DiagnosticTests.Base.Replace("kind: value_store", "kind: counter"));
        var dsl109 = Assert.Single(unknownKind.SpecDiagnostics);
        foreach (var kind in ServiceKinds.All) Assert.Contains(kind.Name, dsl109.GetMessage());

        var unknownType = GeneratorHarness.Run(DiagnosticTests.Base.Replace("greeting: string", "greeting: strin"));
        var dsl101 = Assert.Single(unknownType.SpecDiagnostics);
        foreach (var type in ValueTypes.All.Where(t => t.Allows(TypePlaces.Message)))
            Assert.Contains(type.Kind == TypeKind.List ? "list<string>" : type.Name, dsl101.GetMessage());
    }

    [Fact]
    public void Unhex_gives_bytes_that_may_be_absent_and_an_ensure_proves_them_present()
    {
        var run = GeneratorHarness.Run("""
            protocol: keys
            version: "1"
            roles: [a, b]
            inputs:
              a: { key_text: string }
            messages:
              share: { fields: { key: bytes<32>, raw: bytes? } }
            errors:
              BAD_KEY: { doc: The key is not hex. }
            flow:
              - a -> b: share
                let:
                  key: unhex(self.key_text)
                ensure:
                  - key != null else BAD_KEY
                  - len(key) == 32 else BAD_KEY
                set: { key: key, raw: unbase64("aGk=") }
            """);
        MiscompileTests.AssertCompilesClean(run);
        Assert.Contains("global::Dsl.Runtime.Expressions.Builtins.Unhex(_inputs.KeyText)", run.Source("A.Machine.g.cs"));

        var unchecked_ = GeneratorHarness.Run("""
            protocol: keys
            version: "1"
            roles: [a, b]
            inputs:
              a: { key_text: string }
            messages:
              share: { fields: { key: bytes } }
            flow:
              - a -> b: share
                set: { key: unhex(self.key_text) }
            """);
        var absent = Assert.Single(unchecked_.SpecDiagnostics);
        Assert.Equal("DSL205", absent.Id);
        Assert.Contains("'unhex' gives nothing when the text is not hex", absent.GetMessage());
    }
}
