namespace Xent.Training.Checkpoints;

/// <summary>
/// Where a loaded checkpoint came from and which model.safetensors it was: a save replaces the file by a rename, so a
/// later save into the folder shows as another write time or length at the same path.
/// </summary>
/// <param name="Directory">The checkpoint's folder, as a full path.</param>
/// <param name="Given">The same folder as the caller named it (relative, say), for messages.</param>
/// <param name="Step">The step it was saved at.</param>
/// <param name="ModelWriteTimeUtc">The last write time of the model.safetensors that was read, from its open handle.</param>
/// <param name="ModelLength">That file's length in bytes.</param>
internal sealed record CheckpointOrigin(string Directory, string Given, long Step, DateTime ModelWriteTimeUtc, long ModelLength);
