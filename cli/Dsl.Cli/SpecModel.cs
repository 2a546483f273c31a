using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Dsl.Generator.Binding;
using Dsl.Generator.Projection;
using Dsl.Generator.Syntax;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Cli;

/// <summary>A spec as the generator understands it: bound and projected, its bases merged in.</summary>
internal sealed class SpecModel
{
    private SpecModel(ProjectedProtocol projected) => Projected = projected;

    public ProjectedProtocol Projected { get; }

    public BoundProtocol Protocol => Projected.Protocol;

    /// <summary>The spec at <paramref name="path"/> with the rest of <paramref name="project"/> (its bases), or null when it has errors (<c>check</c> says which).</summary>
    public static SpecModel? Load(string path, IReadOnlyList<string> project, CancellationToken cancellationToken)
    {
        var texts = project.Append(path).Distinct().ToDictionary(p => p, File.ReadAllText);
        var documents = texts.Select(t => YamlReader.Read(t.Key, t.Value, cancellationToken)).ToList();
        var syntax = SpecParser.Parse(documents.First(d => d.FilePath == path), documents, cancellationToken);
        var bound = SpecBinder.Bind(syntax, cancellationToken);
        return bound.Protocol is null ? null : new SpecModel(RoleProjector.Project(bound.Protocol, cancellationToken));
    }
}
