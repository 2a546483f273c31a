using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Generator.Projection;

namespace Dsl.Generator.Emit;

/// <summary>
/// Emits a machine's <c>ExportState</c> and <c>TryRestoreState</c>: its state, phase and kept values, each written
/// by the member its type's descriptor names, sealed by <c>HandshakeState</c> under the application's key.
/// </summary>
internal static class StateExport
{
    public static void Emit(SourceWriter w, BoundProtocol protocol, RoleMachine machine, RoleTypeNames names, IReadOnlyDictionary<KeptValue, string> kept)
    {
        var handshakes = CSharp.Handshakes;
        var hasServices = protocol.ServicesOf(machine.Role).Any();
        var hasHooks = protocol.HooksOf(machine.Role).Any();
        w.SummaryXml("Exports the machine's state (its state, its phase and the values later steps read; never its inputs or services), " +
                     "encrypted and authenticated under <paramref name=\"key\"/>, so that another machine, in this process or another, can take the handshake on " +
                     "with <see cref=\"TryRestoreState\"/>. The state may hold the handshake's secrets: keep the key as secret as they are.");
        w.Param("key", "A 32-byte key the application keeps (HandshakeState.KeySize).");
        w.Open("public byte[] ExportState(global::System.ReadOnlySpan<byte> key)");
        w.Line($"using var writer = new {handshakes}.HandshakeStateWriter();");
        w.Line("writer.WriteInt32((int)State);");
        w.Line("writer.WriteString(Phase);");
        w.Line("writer.WriteInt32(_afterSend);");
        w.Line("writer.WriteTimestamp(StartedAt);");
        w.Line("writer.WriteString(PeerAddress);");
        w.Line("writer.WriteTimestamp(new global::System.DateTimeOffset(_clock, global::System.TimeSpan.Zero));");
        var codec = Naming.Codec(Naming.Pascal(protocol.Name));
        foreach (var value in machine.Kept) w.Line(Write(value.Type, KeptStorage.Load(value.Type, kept[value]), codec) + ";");
        w.Line($"return {handshakes}.HandshakeState.Seal(StateIdentity, writer.WrittenSpan, key);");
        w.Close();
        w.Line();

        w.SummaryXml("Restores a machine from a state <see cref=\"ExportState\"/> exported, with this role's inputs, services and hooks. " +
                     "Refuses (returns false) a state that was changed, was sealed under another key, or comes from another protocol, role or build of the spec.");
        w.Param("state", "What <see cref=\"ExportState\"/> returned.");
        w.Param("key", "The key it was exported under.");
        w.Param("inputs", "What this role is configured with.");
        if (hasServices) w.Param("services", "The stores this role uses.");
        if (hasHooks) w.Param("hooks", "The application's answers to this role's hooks.");
        w.Param("options", "Timeouts and clock; <see cref=\"DefaultOptions\"/> when null.");
        w.Param("machine", "The restored machine; <see cref=\"StartAsync\"/> or <see cref=\"RunAsync\"/> takes the handshake on where it was.");
        w.Open($"public static bool TryRestoreState(global::System.ReadOnlySpan<byte> state, global::System.ReadOnlySpan<byte> key, {names.Inputs} inputs, " +
               (hasServices ? $"{names.Services} services, " : "") +
               (hasHooks ? $"{names.Hooks} hooks, " : "") +
               $"{handshakes}.HandshakeOptions? options, [global::System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out {names.Machine}? machine)");
        w.Line("machine = null;");
        w.Line($"if (!{handshakes}.HandshakeState.TryOpen(StateIdentity, state, key, out var body)) return false;");
        w.Open("try");
        w.Line($"var reader = new {handshakes}.HandshakeStateReader(body);");
        w.Line($"var restored = new {names.Machine}(inputs, {(hasServices ? "services, " : "")}{(hasHooks ? "hooks, " : "")}options);");
        w.Line("var value = reader.ReadInt32();");
        var states = machine.States.Select(s => s.Id.ToString(CultureInfo.InvariantCulture)).Prepend("-1");
        w.Line($"if (value is not ({string.Join(" or ", states)})) return false;");
        w.Line($"restored.State = ({names.State})value;");
        w.Line("restored.Phase = reader.ReadString() ?? restored.Phase;");
        w.Line("restored._afterSend = reader.ReadInt32();");
        var sends = machine.States.Where(s => s.Kind == StateKind.Send).Select(s => s.Id.ToString(CultureInfo.InvariantCulture)).Prepend("-1");
        w.Line($"if (restored._afterSend is not ({string.Join(" or ", sends)})) return false;");
        w.Line("restored.StartedAt = reader.ReadTimestamp();");
        w.Line("restored.PeerAddress = reader.ReadString() ?? \"unknown\";");
        w.Line("restored._clock = (reader.ReadTimestamp() ?? default).UtcTicks;");
        foreach (var value in machine.Kept) w.Line($"restored.{kept[value]} = {KeptStorage.Store(value.Type, Read(value.Type, codec))};");
        w.Line("if (!reader.IsAtEnd) return false;");
        w.Line("machine = restored;");
        w.Line("return true;");
        w.Close();
        w.Line("catch (global::System.FormatException)");
        w.Open("");
        w.Line("return false;");
        w.Close();
        w.Line("finally");
        w.Open("");
        w.Line("global::System.Security.Cryptography.CryptographicOperations.ZeroMemory(body);");
        w.Close();
        w.Close();
        w.Line();
    }

    /// <summary>The descriptor whose state members keep <paramref name="type"/> (a list's element's), and whether it is a list.</summary>
    private static (ValueTypeDescriptor Descriptor, bool List) Kept(TypeRef type)
        => type.Kind == TypeKind.List ? (type.ElementType.Descriptor, true) : (type.Descriptor, false);

    /// <summary>
    /// Writes a kept value: with the <c>HandshakeStateWriter</c> member its type names, or for a declared object or
    /// enum, as the bytes the codec's <c>Save{T}</c> gives.
    /// </summary>
    private static string Write(TypeRef type, string value, string codec)
    {
        var (descriptor, list) = Kept(type);
        var member = (list ? descriptor.StateListWrite : descriptor.StateWrite)!;
        return descriptor.Declared
            ? $"writer.WriteBytes({codec}.{string.Format(CultureInfo.InvariantCulture, member, Naming.DeclaredType(type.Name!))}({value}))"
            : $"writer.{member}({value})";
    }

    private static string Read(TypeRef type, string codec)
    {
        var (descriptor, list) = Kept(type);
        var member = (list ? descriptor.StateListRead : descriptor.StateRead)!;
        return descriptor.Declared
            ? $"{codec}.{string.Format(CultureInfo.InvariantCulture, member, Naming.DeclaredType(type.Name!))}(reader.ReadBytes())"
            : $"reader.{member}()";
    }
}
